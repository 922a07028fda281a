// The client's transitions: submit (one task, a batch) and cancel. A client holds nothing in
// ZooKeeper, so they carry no fence: only `moved` (the id is taken, the task changed under
// us) and `unknown` (connection or session lost) can refuse them.
import type { Op } from '../zk/session.js';
import { CHILD_CHUNK, DagPaths } from './dag-paths.js';
import { childEdgeOps, dependentSubmitOps } from './dag-ops.js';
import type { TaskRecord } from './task-record.js';
import { assertFits, cancelOps, opsBytes, queueEntryOf, submitOps, unmarkedQueueEntryOf, type VersionedRecord } from './task-ops.js';
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

/** One task of a submission with dependencies: its record and parent ids (none: an ordinary submit). */
export interface DagItem {
  rec: TaskRecord;
  parents: readonly string[];
}

const EMPTY_BYTES = opsBytes([]);
const opBytes = (op: Op) => opsBytes([op]) - EMPTY_BYTES;
const idBytes = (id: string) => Buffer.byteLength(JSON.stringify(id)) + 1; // the id and its comma in a chunk

/** The reverse edges of one multi, grouped per parent, sized exactly as they grow. */
class EdgeSet {
  readonly map = new Map<string, string[]>();
  bytes = 0;
  constructor(private readonly dag: DagPaths) {}

  /** What adding `child` under each of `parents` adds to the multi. */
  cost(child: string, parents: readonly string[]): number {
    let n = 0;
    for (const p of parents) {
      const have = this.map.get(p)?.length ?? 0;
      n += have % CHILD_CHUNK !== 0 ? idBytes(child) : opBytes({ op: 'create', path: this.dag.childChunkPrefix(p), data: Buffer.from(JSON.stringify([child])) });
    }
    return n;
  }

  add(child: string, parents: readonly string[], cost: number): void {
    for (const p of parents) {
      const l = this.map.get(p);
      if (l) l.push(child);
      else this.map.set(p, [child]);
    }
    this.bytes += cost;
  }
}

const itemOps = (dag: DagPaths, it: DagItem): Op[] => (it.parents.length > 0 ? dependentSubmitOps(dag, it.rec, it.parents) : submitOps(dag.paths, it.rec));

/** Whether `it` with its reverse edges goes over `maxBytes` alone (then: edgesFirst, and its record alone). */
export function tooBigWithEdges(dag: DagPaths, it: DagItem, maxBytes: number): boolean {
  if (it.parents.length === 0) return false;
  return opsBytes(itemOps(dag, it)) + new EdgeSet(dag).cost(it.rec.id, it.parents) > maxBytes;
}

/**
 * Submits items[from..] (records, dependent ones with their parents and waiting entries, and
 * their reverse edges, grouped per parent) in one multi, as many as fit `limits`; `moved`
 * names the item. A dependent record's multi comes after its parents' (the caller's order).
 * `prepare`: called with the parents the multi writes chunks under, before it is sent.
 */
export async function submitDagBatch(
  tx: Tx,
  dag: DagPaths,
  items: readonly DagItem[],
  from: number,
  limits: BatchLimits,
  prepare?: (parents: Iterable<string>) => Promise<void>,
): Promise<BatchVerdict> {
  const m = new Multi(tx.paths);
  const edges = new EdgeSet(dag);
  let taken = 0;
  for (let k = from; k < items.length && taken < limits.maxItems; k++) {
    const it = items[k]!;
    const ops = itemOps(dag, it);
    const cost = edges.cost(it.rec.id, it.parents);
    if (taken > 0 && m.bytes + opsBytes(ops) - EMPTY_BYTES + edges.bytes + cost > limits.maxBytes) break;
    m.add(k, ops);
    edges.add(it.rec.id, it.parents, cost);
    taken++;
  }
  // The edges last, tagged with the first item (a sequential create is refused only without its directory).
  if (edges.map.size > 0) {
    await prepare?.(edges.map.keys()); // the parents' reverse-edge directories (ensureChildDirs)
    m.add(from, childEdgeOps(dag, edges.map));
  }
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', taken } : { ...v, taken };
}

/**
 * The reverse edges of one task with too many parents for one multi with its record, in
 * multis of ≤ maxBytes, before its record is submitted: an edge whose child was then never
 * created (the submit failed) or written twice (a retry) is harmless (readChildIds dedups;
 * `get` shows the id). Each multi is retried on an unknown outcome (a duplicate, as said).
 */
export async function edgesFirst(tx: Tx, dag: DagPaths, child: string, parents: readonly string[], maxBytes: number, again: () => Promise<void>): Promise<void> {
  const ops = childEdgeOps(dag, new Map(parents.map((p) => [p, [child]])));
  for (let i = 0; i < ops.length; ) {
    const m = new Multi(tx.paths);
    for (; i < ops.length && m.fits([ops[i]!], maxBytes); i++) m.add(0, [ops[i]!]);
    for (let attempt = 0; ; attempt++) {
      const v = await m.send(tx.session);
      if (v.kind === 'committed') break;
      if (v.kind !== 'unknown' || attempt >= 5) throw v.error;
      await again();
    }
  }
}

export { DagPaths };
