// The worker's finish, as a prepared transition that can go alone or in a group commit. Each
// task's ops are exactly a lone finish's (remove its own assignment: the fence; set its
// record@version; its queue or done entry), sized per task first (fittedFinishOps: the
// too-large rule stays per task). A batch is one multi: all-or-nothing, so a refusal names
// the one item the server refused and says nothing of the others.
import { failpoint } from '../util/failpoints.js';
import type { BatchLimits } from './client-transitions.js';
import { Multi, type BatchVerdict, type Refusal, type Tx } from './multi.js';
import type { TaskRecord } from './task-record.js';
import { BATCH_LIMITS, fittedFinishOps, type FinishCut, type Outcome, type Transition, type VersionedRecord } from './task-ops.js';

/** One attempt's finish, built and sized: what it writes (`next`) and what was cut to fit. */
export interface PreparedFinish extends Transition {
  taskId: string;
  cut?: FinishCut;
}

export type FinishVerdict = ({ kind: 'committed' } | Refusal) & {
  /** The record as this finish writes it (compare with a read-back after `unknown`). */
  next: TaskRecord;
  /** Set when the outcome was too large for one request: a result is cut out (the task fails as too-large instead), or a message cut shorter. */
  cut?: FinishCut;
};

/** Builds and sizes one finish; throws RequestTooLargeError if it cannot fit one request whatever is cut. */
export function prepareFinish(tx: Tx, cur: VersionedRecord, outcome: Outcome, now: number): PreparedFinish {
  return { taskId: cur.record.id, ...fittedFinishOps(tx.paths, cur, outcome, now) };
}

/** The verdict of `p` given the verdict of the multi it went in. */
export function finishVerdictOf(p: PreparedFinish, v: { kind: 'committed' } | Refusal): FinishVerdict {
  return { ...(v.kind === 'committed' ? { kind: 'committed' as const } : v), next: p.next, ...(p.cut ? { cut: p.cut } : {}) };
}

/** Sends one prepared finish alone. */
export async function sendFinish(tx: Tx, p: PreparedFinish): Promise<FinishVerdict> {
  const m = new Multi(tx.paths).add(0, p.ops, 'assignment');
  failpoint('worker.before-commit');
  const v = await m.send(tx.session);
  if (v.kind === 'committed') failpoint('worker.after-commit');
  return finishVerdictOf(p, v.kind === 'committed' ? { kind: 'committed' } : v);
}

/**
 * Group commit: finishes list[from..] in ONE multi, as many as fit `limits` (at least one;
 * BATCH_LIMITS: 200 items / 400 KB, room for a chroot in front of every path). `fenced` names
 * the item whose assignment is gone, `moved` the item whose record or entry changed; either
 * way nothing of the batch was applied. `unknown`: all of it or none (verify by reading back).
 */
export async function finishBatch(tx: Tx, list: readonly PreparedFinish[], from: number, limits: BatchLimits = BATCH_LIMITS): Promise<BatchVerdict> {
  const m = new Multi(tx.paths);
  for (let k = from; k < list.length && m.items < limits.maxItems; k++) {
    const ops = list[k]!.ops;
    if (!m.fits(ops, limits.maxBytes)) break;
    m.add(k, ops, 'assignment');
  }
  failpoint('worker.before-commit');
  const v = await m.send(tx.session);
  if (v.kind === 'committed') {
    failpoint('worker.after-commit');
    return { kind: 'committed', taken: m.items };
  }
  return { ...v, taken: m.items };
}
