// ctx.parents(): the outcomes of a dependent task's parents, read when the handler asks: the
// parent ids (dag/parents node + chunks: 1 getData + ⌈chunks/4⌉ multiReads), then their records
// in multiReads of ≤ 100 kept near a reply budget (client/record-reads.ts). Read once per
// attempt (a failed read is tried again on the next call). A parent whose record is gone
// (purged by retention) or unreadable, or that is not finished (a dependency-failed task
// retried while a parent runs again), is left out: the list holds only finished parents.
import { readMany, RecordSizes } from '../client/record-reads.js';
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { readParentIds } from '../shared/protocol/dag-reads.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import type { ZkSession } from '../shared/zk/session.js';
import type { ParentOutcome } from './handlers.js';

/** One finished parent record as its child's handler sees it, or null (not finished). */
export function parentOutcome(rec: TaskRecord): ParentOutcome | null {
  if (rec.state !== 'succeeded' && rec.state !== 'failed' && rec.state !== 'cancelled') return null;
  const out: ParentOutcome = { id: rec.id, type: rec.type, state: rec.state, result: rec.state === 'succeeded' ? (rec.result ?? null) : null };
  if (rec.state !== 'succeeded' && rec.error) out.error = { kind: rec.error.kind, message: rec.error.message };
  return out;
}

/** The parents' outcomes of `rec`, in the order they were given at submit ([] without dependencies). */
export async function readParents(session: ZkSession, paths: Paths, rec: TaskRecord): Promise<ParentOutcome[]> {
  if (!rec.dependsOn) return [];
  const ids = await readParentIds(session, new DagPaths(paths), rec.id);
  if (!ids || ids.length === 0) return [];
  const byId = new Map<string, ParentOutcome>();
  let failure: unknown;
  await readMany(session, paths, new RecordSizes(), ids, (group, outcomes) => {
    outcomes.forEach((o, i) => {
      if (o.kind === 'record' && o.rec) {
        const p = parentOutcome(o.rec);
        if (p) byId.set(group[i]!, p);
      } else if (o.kind === 'away' || o.kind === 'error') failure ??= o.kind === 'error' ? o.err : new Error(`ZooKeeper ${o.what} lost while reading the parents of task ${rec.id}`);
    });
  });
  if (failure !== undefined) throw failure;
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** ctx.parents for one attempt: read on the first call, the same answer after. */
export function parentsReader(session: ZkSession, paths: Paths, rec: TaskRecord): () => Promise<ParentOutcome[]> {
  let cached: Promise<ParentOutcome[]> | undefined;
  return () => {
    cached ??= readParents(session, paths, rec).catch((err: unknown) => {
      cached = undefined;
      throw err;
    });
    return cached;
  };
}
