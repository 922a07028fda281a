// The retry transition's ZooKeeper write (a client's, like cancel: no fence, a client holds
// nothing in ZooKeeper). ONE multi per task:
//
//   retry   set task@v (failed|cancelled → queued) + remove done entry + create queue entry
//
// Races, each settled by the multi: another retry (the record's version: one wins, the other
// is `moved` BAD_VERSION and reads it queued), retention's purge (both remove the done entry
// and purge removes the record: one wins; a purged task is `moved` NO_NODE on the record).
import type { Op } from '../zk/session.js';
import type { Paths } from './paths.js';
import { assertFits, doneEntryOf, queueEntryOf, type Transition, type VersionedRecord } from './task-ops.js';
import { encodeRecord, type TaskRecord } from './task-record.js';
import { retryTask } from './task-state.js';
import { Multi, type BatchVerdict, type Tx, type Verdict } from './multi.js';
import type { BatchLimits } from './client-transitions.js';

export { doneEntryOf } from './task-ops.js';

/**
 * The retry of a failed or cancelled record read at `cur.version` (IllegalTransitionError
 * from any other state). The queue entry carries the big mark as the new record's bytes say
 * (queueEntryOf), as every queued record's does.
 */
export function retryOps(paths: Paths, cur: VersionedRecord, now: number): Transition {
  const next = retryTask(cur.record, now);
  const data = encodeRecord(next);
  const ops: Op[] = [
    { op: 'setData', path: paths.task(next.id), data, version: cur.version },
    { op: 'remove', path: doneEntryOf(paths, cur.record) },
    { op: 'create', path: queueEntryOf(paths, next, data.length) },
  ];
  // The new record can be a little bigger than the one it replaces (retries, retriedAt,
  // attemptBase added; error and result gone): checked like any write.
  return assertFits({ next, ops }, `the retry of task ${next.id}`);
}

/**
 * Retries one task. `moved`: part `record` BAD_VERSION (it changed: retried, say) or NO_NODE
 * (purged); part `done-entry` NO_NODE (a finished record without its done entry: the index
 * is damaged; not retried, since a stray done entry would later make retention purge a live
 * task); part `queue-entry` NODE_EXISTS (an entry of that name is there already).
 */
export async function retry(tx: Tx, cur: VersionedRecord, now: number): Promise<Verdict<{ next: TaskRecord }>> {
  const t = retryOps(tx.paths, cur, now);
  const v = await new Multi(tx.paths).add(0, t.ops).send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', next: t.next } : v;
}

/**
 * Retries curs[from..] in one multi, as many as fit `limits` (at least one); `moved` names the
 * item that changed under us (the others were not written: the caller drops it and goes on).
 */
export async function retryBatch(tx: Tx, curs: readonly VersionedRecord[], from: number, now: number, limits: BatchLimits): Promise<BatchVerdict> {
  const m = new Multi(tx.paths);
  for (let k = from; k < curs.length && m.items < limits.maxItems; k++) {
    const { ops } = retryOps(tx.paths, curs[k]!, now);
    if (!m.fits(ops, limits.maxBytes)) break;
    m.add(k, ops);
  }
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', taken: m.items } : { ...v, taken: m.items };
}
