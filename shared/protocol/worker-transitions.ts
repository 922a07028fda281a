// The worker's transitions. A worker's fence is its own assignment node (whose name holds the
// attempt): start checks it, finish removes it, so `fenced` means the attempt was taken away
// (cancelled, reclaimed) and nothing the worker sends for it changes anything.
import type { TaskRecord } from './task-record.js';
import { BATCH_LIMITS, startOps, type Outcome, type VersionedRecord } from './task-ops.js';
import { prepareFinish, sendFinish, type FinishVerdict } from './finish-batch.js';
import type { BatchLimits } from './client-transitions.js';
import { Multi, type BatchVerdict, type Tx, type Verdict } from './multi.js';

export type { FinishVerdict };

/** Marks an assigned attempt running: check the assignment, set the record@version. */
export async function start(tx: Tx, cur: VersionedRecord): Promise<Verdict<{ cur: VersionedRecord }>> {
  const t = startOps(tx.paths, cur, Date.now());
  const m = new Multi(tx.paths).add(0, t.ops, 'assignment');
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', cur: { record: t.next, version: m.recordVersion(v.results, 0) } } : v;
}

/**
 * Marks curs[from..] running in one multi, as many as fit `limits` (BATCH_LIMITS: records
 * carry payloads of up to 512 KiB, so a burst of them is more than one request holds, and a
 * chroot adds its length to every path). `fenced` and `moved` name the item; committed gives
 * each started record and its new version.
 */
export async function startBatch(
  tx: Tx,
  curs: readonly VersionedRecord[],
  from: number,
  limits: BatchLimits = BATCH_LIMITS,
): Promise<BatchVerdict<{ started: VersionedRecord[] }>> {
  const now = Date.now();
  const m = new Multi(tx.paths);
  const next: TaskRecord[] = [];
  for (let k = from; k < curs.length && m.items < limits.maxItems; k++) {
    const t = startOps(tx.paths, curs[k]!, now);
    if (!m.fits(t.ops, limits.maxBytes)) break;
    m.add(k, t.ops, 'assignment');
    next.push(t.next);
  }
  const v = await m.send(tx.session);
  if (v.kind !== 'committed') return { ...v, taken: m.items };
  return { kind: 'committed', started: next.map((record, i) => ({ record, version: m.recordVersion(v.results, from + i) })), taken: m.items };
}

/**
 * Commits an attempt's outcome alone: remove our assignment (the fence), set the record@version
 * (succeeded, failed, or requeued as the state machine says) and its index entry. The group
 * commit of many (finishBatch) is in finish-batch.ts.
 */
export async function finish(tx: Tx, cur: VersionedRecord, outcome: Outcome, now: number): Promise<FinishVerdict> {
  return sendFinish(tx, prepareFinish(tx, cur, outcome, now));
}

/**
 * Re-creates a live member's assignment directory (removed by hand, say), fenced by its
 * member node so a directory is only ever made for a member that lives. `fenced`: the member
 * node is gone; `moved` NODE_EXISTS: the directory is there already.
 */
export async function restoreAssignDir(tx: Tx, member: string): Promise<Verdict> {
  const m = new Multi(tx.paths).fence({ op: 'check', path: tx.paths.member(member) }).add(0, [{ op: 'create', path: tx.paths.assignDir(member) }]);
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed' } : v;
}
