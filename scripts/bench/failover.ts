// Leader changes, seen by the observer (zk-probe.ts) on one clock:
//  - failover: kill -9 of the leader → the first assignment node created after its
//    candidate node is gone (events come in zxid order, and every assignment is fenced by the
//    writer's candidate node, so any assignment after that deletion is the next leader's);
//  - handover: the same after SIGTERM (a graceful stop deletes the candidate at once);
//  - take-over: Q queued, no worker with a slot; kill -9 of the leader, workers with free
//    slots join while nobody leads; from the old candidate's deletion (the next one wins
//    then) to the first assignment.
import type { BenchCluster, FlowEvent } from './cluster.js';
import { now } from './zk-probe.js';

let masterSeq = 0;
const nextMasterId = (prefix: string) => `${prefix}${++masterSeq}`;

/** A follower is running (starts one if not), so a leader's death has a successor. */
export async function ensureFollower(c: BenchCluster, prefix: string): Promise<void> {
  const followers = c.masters.filter((m) => m.alive && m !== c.leader());
  if (followers.length === 0) await c.startMaster(nextMasterId(prefix), 'following');
}

/** The candidate deletion after `t0`, then the first assignment after it. */
export function leaderChange(c: BenchCluster, t0: number, timeoutMs: number): Promise<{ deletedAt: number; firstAssignAt: number }> {
  let deletedAt = 0;
  let firstAssignAt = 0;
  const off = c.onFlow((e: FlowEvent) => {
    if (e.t < t0) return;
    if (e.kind === 'candidate-' && !deletedAt) deletedAt = e.t;
    else if (e.kind === 'assigned' && deletedAt && !firstAssignAt) firstAssignAt = e.t;
  });
  return c
    .until(() => (firstAssignAt ? { deletedAt, firstAssignAt } : null), timeoutMs, deletedAt ? 'the first assignment by the next leader' : "the old leader's candidate node going")
    .finally(off);
}

export interface LeaderChange {
  /** Signal → first assignment by the next leader. */
  totalMs: number;
  /** Signal → the old candidate node gone (the failure detector: about the session timeout after a kill -9). */
  detectMs: number;
  /** Candidate gone → first assignment (the next leader's own take-over). */
  takeoverMs: number;
}

/**
 * Tasks flowing (a backlog of echo tasks being assigned and finished), then the leader is
 * stopped with `sig`. Workers finish what they hold within milliseconds and wait with free
 * slots, so the first assignment after the change is as early as the next leader can make it.
 */
export async function leaderChangeRun(c: BenchCluster, sig: 'SIGKILL' | 'SIGTERM', run: string, backlog: number): Promise<LeaderChange> {
  await ensureFollower(c, 'fm');
  const leader = c.leader();
  if (!leader) throw new Error('bench: no master says it leads');
  const ids = Array.from({ length: backlog }, (_, i) => `${run}-${i}`);
  const mine = new Set(ids);
  let finished = 0;
  const off = c.onDone((id) => {
    if (mine.has(id)) finished++;
  });
  try {
    await c.submit(ids.map((id) => ({ type: 'echo', id, payload: {} })));
    // Flowing: a tenth done, and still most of it queued when the signal goes.
    await c.until(() => finished >= backlog / 10, 60_000, `${run}: a tenth of the backlog finished`);
    if (finished > backlog / 2) throw new Error(`bench: ${run}: the backlog drained before the leader was stopped (raise it)`);
    const t0 = now();
    const change = leaderChange(c, t0, 60_000);
    change.catch(() => undefined); // awaited at once; a rejection is never left unhandled
    leader.kill(sig);
    const { deletedAt, firstAssignAt } = await change;
    await c.until(() => finished === backlog, 120_000, `${run}: the backlog finished after the change`);
    await leader.exited;
    return { totalMs: firstAssignAt - t0, detectMs: deletedAt - t0, takeoverMs: firstAssignAt - deletedAt };
  } finally {
    off();
  }
}

export interface TakeoverRun {
  takeoverMs: number;
  /** RSS of the next leader right after its first assignment (MiB). */
  leaderRssMb: number;
  queued: number;
}

export interface TakeoverOptions {
  /** Tasks queued now (submitted less finished). */
  queued: () => number;
  /** Brings the queue back to its size before a run. */
  topUp: () => Promise<void>;
  rssMb: (pid: number) => number;
  workerIds: string[];
  concurrency: number;
  /** Runs while the workers live, after the first assignment (a dispatch measurement). */
  whileLive?: (firstAssignAt: number) => Promise<void>;
}

/**
 * Q queued with no worker; kill -9 of the leader; workers start and register while nobody
 * leads; the next leader's take-over: candidate deletion → first assignment. Afterwards the
 * workers are killed and the bench waits for the leader to take their tasks back, so the
 * next run finds the queue as before (topped up with fresh tasks).
 */
export async function takeoverRun(c: BenchCluster, run: string, o: TakeoverOptions): Promise<TakeoverRun> {
  await o.topUp();
  await ensureFollower(c, 'tm');
  const leader = c.leader();
  if (!leader) throw new Error('bench: no master says it leads');
  const q = o.queued();
  const membersBefore = c.members.size;
  const loaded = await c.loadWorkers(run, o.workerIds, o.concurrency);
  const t0 = now();
  const change = leaderChange(c, t0, 120_000);
  change.catch(() => undefined); // awaited below; not if an earlier step throws
  leader.kill('SIGKILL');
  try {
    await loaded.go();
    await c.until(() => c.members.size >= membersBefore + o.workerIds.length, 20_000, 'the take-over workers registered');
    const joinedAt = now();
    const { deletedAt, firstAssignAt } = await change;
    if (joinedAt > deletedAt) {
      throw new Error(`bench: take-over ${run}: the workers registered ${Math.round(joinedAt - deletedAt)} ms after the next leader won (use a longer session timeout)`);
    }
    const next = c.leader() ?? (await c.until(() => c.leader(), 10_000, 'the next leader says it leads'));
    const leaderRssMb = o.rssMb(next.pid);
    await o.whileLive?.(firstAssignAt);
    return { takeoverMs: firstAssignAt - deletedAt, leaderRssMb, queued: q };
  } finally {
    // Their tasks back in the queue: members gone, every assignment taken back.
    await loaded.child.kill9();
    await c.until(() => c.members.size === membersBefore && c.assigned === c.unassigned, 60_000, 'the take-over workers gone and their tasks back in the queue');
    await leader.exited;
  }
}
