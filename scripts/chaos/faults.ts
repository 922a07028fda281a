// The fault kinds, each injected and then repaired by the runner (one at a time; with
// --overlap a second schedule runs alongside, and a fault leaves alone the processes and
// servers another one holds):
//
//   kill-leader           kill -9 the leading master; restart it after a pause
//   kill-follower-master  kill -9 a following master; restart it
//   kill-worker           kill -9 a worker; restart it
//   leader-failpoints     the two followers are restarted armed (leader.before-assign=kill@N,
//                         leader.after-assign=kill@N), then the leader is killed: each armed
//                         master in turn leads and dies inside an assignment batch
//   worker-failpoints     two workers restarted armed (worker.before-commit=kill@N,
//                         worker.after-commit=kill@N): they die in the middle of committing
//   drain-worker          SIGTERM a worker (a graceful drain); restart it
//   partition-worker      a worker's proxies blackholed past its session timeout, then healed
//   partition-leader      the leader's proxies blackholed past its session timeout, then
//                         healed: another master must lead meanwhile and the cut one must step down
//   zk-kill-leader        kill -9 the ensemble's leader server; restart it
//   zk-kill-follower      kill -9 a follower server; restart it
//   quorum-loss           kill -9 two of the three servers for seconds; restart both
//   pause-leader          SIGSTOP the leader past its session timeout, then SIGCONT: it wakes up
//                         believing it leads; another master must lead meanwhile, it must step down
//   pause-worker          SIGSTOP a worker past its session timeout, then SIGCONT: its running
//                         attempts finish late and their commits must be fenced
//   network-blip          every process cut off ('close') for less than a session timeout:
//                         sessions survive, requests in flight end with an unknown outcome
//
// Processes killed by failpoints restart by themselves (ChaosCluster), unarmed.
import type { ChaosCluster, Slot } from './cluster.js';
import type { Rng } from './prng.js';
import { readLogLines } from './logs.js';
import type { FaultKind, FaultSpan, Timeline } from './timeline.js';
import { sleep, until } from './util.js';

export interface FaultContext {
  cluster: ChaosCluster;
  rng: Rng;
  timeline: Timeline;
  sessionTimeoutMs: number;
}

type Result = Omit<FaultSpan, 'kind' | 'start' | 'end'>;
type Injector = (ctx: FaultContext) => Promise<Result>;

const running = (slots: Slot[]) => slots.filter((s) => s.running && !s.cut && !s.held);

/** Log lines of a master that stops leading: deposed while leading, or while still rebuilding. */
const isStepDown = (msg: unknown): boolean =>
  typeof msg === 'string' && (msg.startsWith('stepped down') || msg.startsWith('could not rebuild the picture'));

async function killAndRestart(ctx: FaultContext, slot: Slot, pauseMs: number): Promise<string> {
  slot.held = true;
  const pid = await ctx.cluster.kill9(slot);
  await sleep(pauseMs);
  slot.held = false;
  if (!slot.running) ctx.cluster.launch(slot);
  return `${slot.name} pid ${pid} killed, restarted after ${pauseMs} ms`;
}

const killLeader: Injector = async (ctx) => {
  const leader = await ctx.cluster.waitLeader(15_000);
  if (!leader || leader.held || leader.cut) return { detail: 'no live leader to kill', note: 'skipped' };
  const oldPid = leader.pid;
  const detail = await killAndRestart(ctx, leader, ctx.rng.int(200, 1500));
  const next = await until(async () => {
    const s = await ctx.cluster.leaderSlot();
    return s && s.pid !== oldPid ? s : null;
  }, 5 * ctx.sessionTimeoutMs);
  return { detail: `${detail}; next leader ${next?.name ?? 'none yet'}`, verified: next !== null };
};

const killFollowerMaster: Injector = async (ctx) => {
  const leader = await ctx.cluster.waitLeader(15_000);
  const followers = running(ctx.cluster.masters()).filter((s) => s !== leader);
  if (followers.length === 0) return { detail: 'no follower to kill', note: 'skipped' };
  return { detail: await killAndRestart(ctx, ctx.rng.pick(followers), ctx.rng.int(200, 2000)) };
};

const killWorker: Injector = async (ctx) => {
  const ws = running(ctx.cluster.workers());
  if (ws.length === 0) return { detail: 'no worker to kill', note: 'skipped' };
  return { detail: await killAndRestart(ctx, ctx.rng.pick(ws), ctx.rng.int(200, 2000)) };
};

const leaderFailpoints: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const leader = await cluster.waitLeader(15_000);
  if (!leader || leader.held || leader.cut) return { detail: 'no live leader', note: 'skipped' };
  const followers = rng.shuffle(running(cluster.masters()).filter((s) => s !== leader)).slice(0, 2);
  if (followers.length < 2) return { detail: 'needs two followers', note: 'skipped' };
  // Claimed at once (before any await), so an overlapping fault leaves them alone.
  for (const s of [leader, ...followers]) s.held = true;
  const specs = [`leader.before-assign=kill@${rng.int(1, 3)}`, `leader.after-assign=kill@${rng.int(1, 3)}`];
  const armed: Array<{ slot: Slot; pid?: number }> = [];
  // Restarted in this order, they line up right behind the leader.
  for (let i = 0; i < 2; i++) {
    const s = followers[i]!;
    await cluster.kill9(s);
    s.held = false;
    if (!s.running) cluster.launch(s, specs[i]);
    armed.push({ slot: s, pid: s.pid });
    await cluster.waitCandidate(s, 15_000);
  }
  const detail = await killAndRestart(ctx, leader, rng.int(200, 800));
  // Each armed master leads in turn and dies at its failpoint (then restarts unarmed).
  const died = await until(() => armed.every((a) => a.slot.pid !== a.pid), 10 * ctx.sessionTimeoutMs + 10_000, 200);
  return {
    detail: `${armed.map((a, i) => `${a.slot.name} armed ${specs[i]}`).join(', ')}; leader ${detail}`,
    verified: died === true,
    note: died ? undefined : 'an armed master had not reached its failpoint',
  };
};

const workerFailpoints: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const ws = rng.shuffle(running(cluster.workers())).slice(0, 2);
  if (ws.length < 2) return { detail: 'needs two workers', note: 'skipped' };
  for (const s of ws) s.held = true;
  const specs = [`worker.before-commit=kill@${rng.int(1, 6)}`, `worker.after-commit=kill@${rng.int(1, 6)}`];
  const armed: Array<{ slot: Slot; pid?: number }> = [];
  for (let i = 0; i < 2; i++) {
    const s = ws[i]!;
    await cluster.kill9(s);
    s.held = false;
    if (!s.running) cluster.launch(s, specs[i]);
    armed.push({ slot: s, pid: s.pid });
  }
  const died = await until(() => armed.every((a) => a.slot.pid !== a.pid), 20_000, 200);
  return {
    detail: armed.map((a, i) => `${a.slot.name} killed and restarted armed ${specs[i]}`).join(', '),
    verified: died === true,
    note: died ? undefined : 'an armed worker had not reached its failpoint',
  };
};

const drainWorker: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const ws = running(cluster.workers());
  if (ws.length === 0) return { detail: 'no worker to drain', note: 'skipped' };
  const s = rng.pick(ws);
  s.held = true;
  const r = await cluster.term(s, cluster.opts.graceMs + 3 * ctx.sessionTimeoutMs + 5000);
  const pause = rng.int(200, 1500);
  await sleep(pause);
  s.held = false;
  if (!s.running) cluster.launch(s);
  return {
    detail: `${s.name} pid ${r.pid} drained in ${r.ms} ms${r.forced ? ' (did not exit: SIGKILLed)' : ''}, restarted after ${pause} ms`,
    verified: !r.forced,
  };
};

const partitionWorker: Injector = async (ctx) => {
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

const partitionLeader: Injector = async (ctx) => {
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

const pauseLeader: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const leader = await cluster.waitLeader(15_000);
  if (!leader || leader.held || leader.cut) return { detail: 'no live leader', note: 'skipped' };
  const pid = leader.pid!;
  const file = cluster.logFile(leader);
  const hold = ctx.sessionTimeoutMs + rng.int(500, 2500);
  const t0 = Date.now();
  leader.held = true;
  cluster.pause(leader);
  const next = await until(async () => {
    const s = await cluster.leaderSlot();
    return s && s !== leader ? s : null;
  }, hold, 100);
  await sleep(Math.max(0, hold - (Date.now() - t0)));
  cluster.resume(leader);
  leader.held = false;
  const steppedDown = await until(
    () => leader.pid !== pid || readLogLines(file).some((l) => l.time >= t0 && isStepDown(l.msg)),
    10_000,
    200,
  );
  return {
    detail: `${leader.name} pid ${pid} frozen for ${hold} ms; ${next ? `${next.name} took over` : 'nobody took over'}; ${steppedDown ? 'it stepped down' : 'it did NOT step down'}`,
    verified: next !== null && steppedDown === true,
  };
};

const pauseWorker: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const ws = running(cluster.workers());
  if (ws.length === 0) return { detail: 'no worker to freeze', note: 'skipped' };
  const s = rng.pick(ws);
  const pid = s.pid!;
  const hold = ctx.sessionTimeoutMs + rng.int(500, 2500);
  const t0 = Date.now();
  s.held = true;
  cluster.pause(s);
  const gone = await until(async () => !(await cluster.liveWorkerPids()).has(pid), hold, 100);
  await sleep(Math.max(0, hold - (Date.now() - t0)));
  cluster.resume(s);
  s.held = false;
  const back = s.pid === pid ? await cluster.waitWorkerAlive(s, 20_000) : false;
  return {
    detail: `${s.name} pid ${pid} frozen for ${hold} ms; member ${gone ? 'expired' : 'still there'}; ${back ? 're-registered' : 'NOT back'}`,
    verified: gone === true && back,
  };
};

const networkBlip: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const hold = rng.int(Math.round(ctx.sessionTimeoutMs * 0.15), Math.round(ctx.sessionTimeoutMs * 0.6));
  const slots = cluster.slots.filter((s) => !s.cut);
  for (const s of slots) cluster.cut(s, 'close');
  await sleep(hold);
  for (const s of slots) cluster.heal(s);
  return { detail: `${slots.length} processes cut off (connections closed) for ${hold} ms` };
};

async function zkKill(ctx: FaultContext, which: 'leader' | 'follower'): Promise<Result> {
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

const quorumLoss: Injector = async (ctx) => {
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

export const INJECTORS: Record<FaultKind, Injector> = {
  'kill-leader': killLeader,
  'kill-follower-master': killFollowerMaster,
  'kill-worker': killWorker,
  'leader-failpoints': leaderFailpoints,
  'worker-failpoints': workerFailpoints,
  'drain-worker': drainWorker,
  'partition-worker': partitionWorker,
  'partition-leader': partitionLeader,
  'zk-kill-leader': (ctx) => zkKill(ctx, 'leader'),
  'zk-kill-follower': (ctx) => zkKill(ctx, 'follower'),
  'quorum-loss': quorumLoss,
  'pause-leader': pauseLeader,
  'pause-worker': pauseWorker,
  'network-blip': networkBlip,
};

/** Relative frequency of each kind after the first round (which has every kind once). */
export const WEIGHTS: Record<FaultKind, number> = {
  'kill-leader': 2,
  'kill-follower-master': 1,
  'kill-worker': 2,
  'leader-failpoints': 1,
  'worker-failpoints': 1,
  'drain-worker': 1,
  'partition-worker': 2,
  'partition-leader': 2,
  'zk-kill-leader': 1,
  'zk-kill-follower': 1,
  'quorum-loss': 1,
  'pause-leader': 1,
  'pause-worker': 1,
  'network-blip': 1,
};

export async function inject(kind: FaultKind, ctx: FaultContext): Promise<FaultSpan> {
  const start = Date.now();
  const me = { kind, start };
  const { timeline } = ctx;
  timeline.note(`fault ${kind} begins`);
  timeline.active.add(me);
  const others = new Set<string>();
  for (const a of timeline.active) if (a !== me) others.add(a.kind);
  let r: Result;
  try {
    r = await INJECTORS[kind](ctx);
  } finally {
    timeline.active.delete(me);
  }
  const end = Date.now();
  for (const a of timeline.active) others.add(a.kind);
  for (const f of timeline.faults) if (f.end > start && f.start < end) others.add(f.kind);
  // What a fault checks (a new leader, an expired member) needs the rest of the cluster
  // working: with another fault at the same time it cannot be judged.
  if (r.verified === false && others.size > 0) r = { ...r, verified: undefined, note: `not judged: overlapped by ${[...others].join(', ')}` };
  const span: FaultSpan = { kind, start, end, ...r };
  timeline.fault(span);
  return span;
}

export function pickWeighted(rng: Rng): FaultKind {
  const entries = Object.entries(WEIGHTS) as Array<[FaultKind, number]>;
  let r = rng.next() * entries.reduce((n, [, w]) => n + w, 0);
  for (const [k, w] of entries) {
    if ((r -= w) < 0) return k;
  }
  return entries[entries.length - 1]![0];
}
