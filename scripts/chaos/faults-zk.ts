// ZooKeeper server faults: the ensemble's leader or a follower killed and restarted, or two
// of the three servers down at once (quorum lost).
import type { FaultContext, Injector, Result } from './fault-kit.js';
import { sleep, until } from './util.js';

export async function zkKill(ctx: FaultContext, which: 'leader' | 'follower'): Promise<Result> {
  const { cluster, rng } = ctx;
  const li = await cluster.zkLeaderIndex();
  if (li < 0) return { detail: 'no ZooKeeper leader', note: 'skipped' };
  const servers = cluster.ensemble.servers;
  const free = servers.map((_, i) => i).filter((i) => !cluster.zkBusy.has(i) && servers[i]!.isRunning());
  const choices = which === 'leader' ? free.filter((i) => i === li) : free.filter((i) => i !== li);
  if (choices.length === 0) return { detail: `no free ${which} server`, note: 'skipped' };
  const idx = rng.pick(choices);
  const server = servers[idx]!;
  cluster.zkBusy.add(idx);
  try {
    await server.kill9();
    const pause = rng.int(500, 2500);
    await sleep(pause);
    await server.restart({ wait: true, timeoutMs: 60_000 });
    const newLeader = await until(async () => ((await cluster.zkLeaderIndex()) >= 0 ? true : null), 20_000);
    return { detail: `zk server ${idx + 1} (${which}) killed, restarted after ${pause} ms`, verified: newLeader === true };
  } finally {
    cluster.zkBusy.delete(idx);
  }
}

export const quorumLoss: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const li = await cluster.zkLeaderIndex();
  const servers = cluster.ensemble.servers;
  const free = servers.map((_, i) => i).filter((i) => !cluster.zkBusy.has(i) && servers[i]!.isRunning());
  if (free.length < 2) return { detail: 'fewer than two free servers', note: 'skipped' };
  const first = free.includes(li) ? li : rng.pick(free);
  const second = rng.pick(free.filter((i) => i !== first));
  const hold = rng.int(1500, 7000);
  cluster.zkBusy.add(first).add(second);
  try {
    await Promise.all([servers[first]!.kill9(), servers[second]!.kill9()]);
    await sleep(hold);
    await Promise.all([servers[first]!.restart({ wait: true, timeoutMs: 60_000 }), servers[second]!.restart({ wait: true, timeoutMs: 60_000 })]);
  } finally {
    cluster.zkBusy.delete(first);
    cluster.zkBusy.delete(second);
  }
  return { detail: `zk servers ${first + 1} and ${second + 1} down for ${hold} ms (quorum lost), restarted` };
};
