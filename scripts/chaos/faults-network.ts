// Network faults: a process's proxies blackholed past its session timeout, or every process's
// connections closed for less than one.
import { isStepDown, running, type Injector } from './fault-kit.js';
import { readLogLines } from './logs.js';
import { sleep, until } from './util.js';

export const partitionWorker: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const ws = running(cluster.workers());
  if (ws.length === 0) return { detail: 'no worker to cut', note: 'skipped' };
  const s = rng.pick(ws);
  const pid = s.pid!;
  const hold = ctx.sessionTimeoutMs + rng.int(1000, 2500);
  cluster.cut(s, 'blackhole');
  const t0 = Date.now();
  // Its session must expire on the server: its member node goes.
  const gone = await until(async () => !(await cluster.liveWorkerPids()).has(pid), hold, 100);
  await sleep(Math.max(0, hold - (Date.now() - t0)));
  cluster.heal(s);
  // And it must come back by itself, under a new session.
  const back = s.pid === pid ? await cluster.waitWorkerAlive(s, 20_000) : false;
  return {
    detail: `${s.name} pid ${pid} cut for ${hold} ms; member ${gone ? 'expired' : 'still there'}; ${back ? 're-registered' : 'NOT back'}`,
    verified: gone === true && back,
  };
};

export const partitionLeader: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const leader = await cluster.waitLeader(15_000);
  if (!leader || leader.cut || leader.held) return { detail: 'no live leader', note: 'skipped' };
  const pid = leader.pid!;
  const file = cluster.logFile(leader);
  const hold = ctx.sessionTimeoutMs + rng.int(500, 3000);
  const t0 = Date.now();
  cluster.cut(leader, 'blackhole');
  // Another master must take over while this one is cut off.
  const next = await until(async () => {
    const s = await cluster.leaderSlot();
    return s && s !== leader ? s : null;
  }, 5 * ctx.sessionTimeoutMs + 5000);
  await sleep(Math.max(0, hold - (Date.now() - t0)));
  cluster.heal(leader);
  // The cut leader must notice it no longer leads.
  const steppedDown = await until(
    () => leader.pid !== pid || readLogLines(file).some((l) => l.time >= t0 && isStepDown(l.msg)),
    10_000,
    200,
  );
  return {
    detail: `${leader.name} pid ${pid} cut for ${hold} ms; ${next ? `${next.name} took over` : 'nobody took over'}; ${steppedDown ? 'it stepped down' : 'it did NOT step down'}`,
    verified: next !== null && steppedDown === true,
  };
};

export const networkBlip: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const hold = rng.int(Math.round(ctx.sessionTimeoutMs * 0.15), Math.round(ctx.sessionTimeoutMs * 0.6));
  const slots = cluster.slots.filter((s) => !s.cut);
  for (const s of slots) cluster.cut(s, 'close');
  await sleep(hold);
  for (const s of slots) cluster.heal(s);
  return { detail: `${slots.length} processes cut off (connections closed) for ${hold} ms` };
};
