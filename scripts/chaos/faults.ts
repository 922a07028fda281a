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
//
// The injectors are grouped by what they hit: faults-process.ts (kills, failpoints, drains,
// freezes), faults-network.ts (partitions, the blip), faults-zk.ts (ensemble servers); this
// file maps each kind to its injector and runs it (`inject`).
import type { FaultContext, Injector, Result } from './fault-kit.js';
import { partitionLeader, partitionWorker, networkBlip } from './faults-network.js';
import { drainWorker, killFollowerMaster, killLeader, killWorker, leaderFailpoints, pauseLeader, pauseWorker, workerFailpoints } from './faults-process.js';
import { quorumLoss, zkKill } from './faults-zk.js';
import type { Rng } from './prng.js';
import type { FaultKind, FaultSpan } from './timeline.js';

export type { FaultContext } from './fault-kit.js';

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
