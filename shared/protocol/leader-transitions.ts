// The leader's transitions. Each multi begins with the leader's fence (the check of its own
// election node), so `fenced` means deposed: nothing a former leader sends changes anything.
import { failpoint } from '../util/failpoints.js';
import type { Op } from '../zk/session.js';
import type { QueueEntry } from './paths.js';
import type { TaskError, TaskRecord } from './task-record.js';
import { assignOps, failMalformedOps, purgeOps, reclaimOps, type VersionedRecord } from './task-ops.js';
import type { BatchLimits } from './client-transitions.js';
import { Multi, type BatchVerdict, type LeaderTx, type Tx, type Verdict } from './multi.js';

export interface AssignItem {
  entry: QueueEntry;
  cur: VersionedRecord;
  /** The member it goes to. */
  worker: string;
}

export interface Assigned {
  next: TaskRecord;
  /** The leader's backstop deadline written into the assignment (null: no timeout). */
  deadline: number | null;
  /** The size of the record the assign wrote (packs a later take-back's read). */
  recordBytes: number;
}

/**
 * Assigns items[from..] in one fenced multi, as many as fit `limits` (at least one): per task,
 * remove its queue entry, set its record@version, create its assignment. `moved` names the
 * task that changed under us (cancelled, say); the others were not written.
 */
export async function assignBatch(
  tx: LeaderTx,
  items: readonly AssignItem[],
  from: number,
  o: BatchLimits & { epoch: number; graceMs: number },
): Promise<BatchVerdict<{ assigned: Assigned[] }>> {
  const now = Date.now();
  const m = new Multi(tx.paths).fence(tx.fence());
  const assigned: Assigned[] = [];
  for (let k = from; k < items.length && m.items < o.maxItems; k++) {
    const item = items[k]!;
    const t = assignOps(tx.paths, item.cur, tx.paths.queueEntryPath(item.entry), item.worker, o.epoch, now, o.graceMs);
    if (!m.fits(t.ops, o.maxBytes)) break;
    m.add(k, t.ops);
    assigned.push({ next: t.next, deadline: t.assignment.deadline, recordBytes: t.assignment.recordBytes ?? 0 });
  }
  failpoint('leader.before-assign');
  const v = await m.send(tx.session);
  if (v.kind !== 'committed') return { ...v, taken: m.items };
  failpoint('leader.after-assign');
  return { kind: 'committed', assigned, taken: m.items };
}

/**
 * Takes an attempt back (its worker is gone, its deadline passed): remove the assignment, set
 * the record@version as the state machine says (requeued or failed), and its index entry.
 * `moved` on the assignment: it is gone already (the worker committed, or a cancel came first);
 * on the record: it changed since it was read.
 */
export async function reclaim(tx: LeaderTx, cur: VersionedRecord, error: TaskError, now: number, requeueNow: boolean): Promise<Verdict<{ next: TaskRecord }>> {
  const t = reclaimOps(tx.paths, cur, error, now, requeueNow);
  const v = await new Multi(tx.paths).fence(tx.fence()).add(0, t.ops).send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', next: t.next } : v;
}

/**
 * A record that cannot be read, behind a queue entry: its stand-in fails queued → failed, in
 * the fenced multi that removes the entry. `moved`: the entry or the record changed first.
 */
export async function failMalformedQueued(tx: LeaderTx, entry: QueueEntry, reason: string, version: number): Promise<Verdict<{ next: TaskRecord }>> {
  const t = failMalformedOps(tx.paths, entry.taskId, reason, version, { queueEntry: tx.paths.queueEntryPath(entry) }, Date.now());
  const v = await new Multi(tx.paths).fence(tx.fence()).add(0, t.ops).send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', next: t.next } : v;
}

export interface HeldAttempt {
  member: string;
  taskId: string;
  attempt: number;
  /** The assignment node's path. */
  assignment: string;
}

/**
 * A record that cannot be read, behind an assignment: its stand-in fails assigned → failed, in
 * the multi that removes the assignment, so a worker's commit and this cannot both win. With
 * `fence` (the leader's) an assignment already gone is `moved`; without it the assignment is
 * the fence (the worker failing its own: `fenced` when it was taken away first).
 */
export async function failMalformedAssigned(tx: Tx, held: HeldAttempt, reason: string, version: number, fence?: Op): Promise<Verdict<{ next: TaskRecord }>> {
  const t = failMalformedOps(tx.paths, held.taskId, reason, version, held, Date.now());
  const m = new Multi(tx.paths);
  if (fence) m.fence(fence).add(0, t.ops);
  else m.add(0, t.ops, 'assignment');
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', next: t.next } : v;
}

export interface Finished {
  taskId: string;
  /** The done entry's path. */
  doneEntry: string;
}

/**
 * Retention: removes done entries and records of tasks[from..], up to `maxItems`, in one fenced
 * multi. `guard(id)`: ops each task's removal must carry too (the leader's DAG guard, retention-dag.ts).
 */
export async function purgeBatch(tx: LeaderTx, tasks: readonly Finished[], from: number, maxItems: number, guard: (taskId: string) => Op[] = () => []): Promise<BatchVerdict> {
  const m = new Multi(tx.paths).fence(tx.fence());
  for (let k = from; k < tasks.length && m.items < maxItems; k++) m.add(k, [...purgeOps(tx.paths, tasks[k]!.taskId, tasks[k]!.doneEntry, -1), ...guard(tasks[k]!.taskId)]);
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', taken: m.items } : { ...v, taken: m.items };
}

async function removeFenced(tx: LeaderTx, path: string): Promise<Verdict> {
  const v = await new Multi(tx.paths).fence(tx.fence()).add(0, [{ op: 'remove', path }]).send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed' } : v;
}

/** Removes an assignment its record does not back (holdsAttempt is false). `moved` NO_NODE: gone already. */
export function removeStaleAssignment(tx: LeaderTx, assignment: string): Promise<Verdict> {
  return removeFenced(tx, assignment);
}

/** Removes a queue entry without a record, or one its record does not back (isQueueEntryOf, task-ops.ts, is false). */
export function removeStaleQueueEntry(tx: LeaderTx, entry: QueueEntry): Promise<Verdict> {
  return removeFenced(tx, tx.paths.queueEntryPath(entry));
}

/**
 * Removes a gone member's emptied assignment directory. `moved` NOT_EMPTY: an assignment
 * raced in (take it back first); NO_NODE: gone already.
 */
export function removeMemberDir(tx: LeaderTx, member: string): Promise<Verdict> {
  return removeFenced(tx, tx.paths.assignDir(member));
}
