// The client's transitions: submit (one task, a batch) and cancel. A client holds nothing in
// ZooKeeper, so they carry no fence: only `moved` (the id is taken, the task changed under
// us) and `unknown` (connection or session lost) can refuse them.
import type { TaskRecord } from './task-record.js';
import { assertFits, cancelOps, queueEntryOf, submitOps, unmarkedQueueEntryOf, type VersionedRecord } from './task-ops.js';
import { Multi, type BatchVerdict, type Tx, type Verdict } from './multi.js';

/** Bounds of one batched multi. */
export interface BatchLimits {
  maxItems: number;
  maxBytes: number;
}

/**
 * Creates the record and its queue entry. `moved` on the record with NODE_EXISTS: a task with
 * this id exists (submission is idempotent by id: read it to see whose it is).
 */
export async function submit(tx: Tx, rec: TaskRecord): Promise<Verdict> {
  const v = await new Multi(tx.paths).add(0, submitOps(tx.paths, rec)).send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed' } : v;
}

/** Submits recs[from..] in one multi, as many as fit `limits` (at least one); `moved` names the item. */
export async function submitBatch(tx: Tx, recs: readonly TaskRecord[], from: number, limits: BatchLimits): Promise<BatchVerdict> {
  const m = new Multi(tx.paths);
  for (let k = from; k < recs.length && m.items < limits.maxItems; k++) {
    const ops = submitOps(tx.paths, recs[k]!);
    if (!m.fits(ops, limits.maxBytes)) break;
    m.add(k, ops);
  }
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', taken: m.items } : { ...v, taken: m.items };
}

/**
 * Cancels a task that is not finished: removes its queue entry or its assignment (so its
 * worker's commit is refused), writes the record cancelled and its done entry. `moved`: it
 * was assigned, started or finished meanwhile (read it again). The reason is cut like any
 * message in a record; a cancel that still cannot fit one request is a RequestTooLargeError.
 */
export async function cancel(tx: Tx, cur: VersionedRecord, reason: string, now: number): Promise<Verdict<{ next: TaskRecord }>> {
  // Sized: the reason is cut (cancelTask), and a multi over the limit is never sent.
  const t = assertFits(cancelOps(tx.paths, cur, reason, now), `the cancel of task ${cur.record.id}`);
  let v = await new Multi(tx.paths).add(0, t.ops).send(tx.session);
  // A big record queued by a drover older than the big marker has an unmarked entry: the
  // same cancel, removing that one.
  const unmarked = cur.record.state === 'queued' ? unmarkedQueueEntryOf(tx.paths, cur.record) : null;
  if (v.kind === 'moved' && v.part === 'queue-entry' && v.code === 'NO_NODE' && unmarked !== null && unmarked !== queueEntryOf(tx.paths, cur.record)) {
    v = await new Multi(tx.paths).add(0, [{ op: 'remove', path: unmarked }, ...t.ops.slice(1)]).send(tx.session);
  }
  return v.kind === 'committed' ? { kind: 'committed', next: t.next } : v;
}
