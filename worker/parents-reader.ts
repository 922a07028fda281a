// ctx.parents(): the outcomes of a dependent task's parents, read when the handler asks: the
// parent ids (dag/parents node + chunks: 1 getData + ⌈chunks/4⌉ multiReads), then their records
// in multiReads of ≤ 100 kept near a reply budget (client/record-reads.ts). Read once per
// attempt (a failed read is tried again on the next call). A parent whose record is gone
// (purged by retention) or unreadable, or that is not finished (a dependency-failed task
// retried while a parent runs again), is left out: the list holds only finished parents.
// Bounded: the results held are at most PARENTS_MAX_BYTES (their JSON); past it, ctx.parents()
// is refused with an error that names the bound (the records read are dropped, no more are asked
// for, and the error is the answer of every later call of that attempt).
import { readMany, RecordSizes } from '../client/record-reads.js';
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { readParentIds } from '../shared/protocol/dag-reads.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import type { ZkSession } from '../shared/zk/session.js';
import type { ParentOutcome } from './handlers.js';
import { jsonBytes } from '../shared/util/json-size.js';

/** Most bytes (JSON of results and errors) ctx.parents() holds: 10 000 parents of 64 KiB results would be ~640 MB. */
export const PARENTS_MAX_BYTES = 64 * 1024 * 1024;

/** Parent ids read per slice (the records of one slice in flight at most past the bound). */
const READ_SLICE = 500;

export class ParentsTooLargeError extends Error {
  override name = 'ParentsTooLargeError';
  constructor(taskId: string, count: number, maxBytes: number) {
    const bound = maxBytes % (1024 * 1024) === 0 ? `${maxBytes / (1024 * 1024)} MiB` : `${maxBytes} bytes`;
    super(`ctx.parents() of task ${taskId}: the outcomes of its ${count} parents are over ${bound} (PARENTS_MAX_BYTES); give the parents smaller results (a reference to where the data is) or fewer parents`);
  }
}

/** One finished parent record as its child's handler sees it, or null (not finished). */
export function parentOutcome(rec: TaskRecord): ParentOutcome | null {
  if (rec.state !== 'succeeded' && rec.state !== 'failed' && rec.state !== 'cancelled') return null;
  const out: ParentOutcome = { id: rec.id, type: rec.type, state: rec.state, result: rec.state === 'succeeded' ? (rec.result ?? null) : null };
  if (rec.state !== 'succeeded' && rec.error) out.error = { kind: rec.error.kind, message: rec.error.message };
  return out;
}

/** The parents' outcomes of `rec`, in the order they were given at submit ([] without dependencies). */
export async function readParents(session: ZkSession, paths: Paths, rec: TaskRecord, maxBytes = PARENTS_MAX_BYTES): Promise<ParentOutcome[]> {
  if (!rec.dependsOn) return [];
  const ids = await readParentIds(session, new DagPaths(paths), rec.id);
  if (!ids || ids.length === 0) return [];
  const byId = new Map<string, ParentOutcome>();
  let failure: unknown;
  let bytes = 0;
  const sizes = new RecordSizes();
  // Slices of READ_SLICE ids: once the bound is passed (or a read failed), nothing more is sent.
  for (let at = 0; at < ids.length && failure === undefined; at += READ_SLICE) {
    await readMany(session, paths, sizes, ids.slice(at, at + READ_SLICE), (group, outcomes) => {
      if (failure !== undefined) return;
      outcomes.forEach((o, i) => {
        if (failure !== undefined) return;
        if (o.kind === 'record' && o.rec) {
          const p = parentOutcome(o.rec);
          if (!p) return;
          bytes += jsonBytes(p.result ?? null) + (p.error ? Buffer.byteLength(p.error.message) : 0);
          if (bytes > maxBytes) {
            failure = new ParentsTooLargeError(rec.id, ids.length, maxBytes);
            byId.clear();
            return;
          }
          byId.set(group[i]!, p);
        } else if (o.kind === 'away' || o.kind === 'error') failure ??= o.kind === 'error' ? o.err : new Error(`ZooKeeper ${o.what} lost while reading the parents of task ${rec.id}`);
      });
    });
  }
  if (failure !== undefined) throw failure;
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** ctx.parents for one attempt: read on the first call, the same answer after. */
export function parentsReader(session: ZkSession, paths: Paths, rec: TaskRecord): () => Promise<ParentOutcome[]> {
  let cached: Promise<ParentOutcome[]> | undefined;
  return () => {
    cached ??= readParents(session, paths, rec).catch((err: unknown) => {
      if (!(err instanceof ParentsTooLargeError)) cached = undefined; // over the bound: the same answer (not read again)
      throw err;
    });
    return cached;
  };
}
