// The operations of task dependencies, pure (the multis that carry them are the client's and
// the leader's). Layout: dag-paths.ts.
//
//   dependent submit  create task (waiting) + create parents node + its chunks + create waiting entry   (client)
//   wide fan-in       parents node + chunks (multis ≤ BATCH_LIMITS), edges, then create task + waiting entry (client)
//   orphan clear      create+remove task (guard) + remove parents node, chunks, waiting entry        (client)
//   child edges       one sequential create per parent per ≤ CHILD_CHUNK children, in the children's multi (client)
//   release           set task@v (waiting → queued) + create queue entry + remove waiting entry        (leader)
//   fail dependency   set task@v (waiting → failed) + create done entry + remove waiting entry         (leader)
//   cancel (waiting)  remove waiting entry + set task@v + create done entry                           (anyone: task-ops cancelOps)
import type { Op } from '../zk/session.js';
import { CHILD_CHUNK, PARENT_CHUNK, type DagPaths } from './dag-paths.js';
import { failDependency, releaseTask, type DecidingParent } from './dag-state.js';
import type { Paths } from './paths.js';
import { encodeRecord, type OnParentFailure, type TaskRecord } from './task-record.js';
import { doneEntryOf, queueEntryOf, submitOps, type Transition, type VersionedRecord } from './task-ops.js';

/** What dag/parents/<shard>/<child> holds; its ids are in `chunks` children 0000.. */
export interface ParentsNode {
  count: number;
  onParentFailure: OnParentFailure;
  chunks: number;
}

/** `ids` in slices of at most `size`. */
export function chunked<T>(ids: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < ids.length; i += size) out.push(ids.slice(i, i + size));
  return out;
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8');

/** A dependent task's parents node and its chunks (node first). */
export function parentsNodeOps(dag: DagPaths, rec: TaskRecord, parentIds: readonly string[]): Op[] {
  if (rec.state !== 'waiting' || !rec.dependsOn || rec.dependsOn.count !== parentIds.length) {
    throw new Error(`task ${rec.id}: a dependent submit needs a waiting record whose dependsOn counts its ${parentIds.length} parents`);
  }
  const chunks = chunked(parentIds, PARENT_CHUNK);
  const node: ParentsNode = { count: parentIds.length, onParentFailure: rec.dependsOn.onParentFailure, chunks: chunks.length };
  return [{ op: 'create', path: dag.parents(rec.id), data: json(node) }, ...chunks.map((c, i): Op => ({ op: 'create', path: dag.parentChunk(rec.id, i), data: json(c) }))];
}

/** A dependent task's record (waiting, no queue entry) and its waiting entry: the last multi of a wide fan-in. */
export function waitingRecordOps(dag: DagPaths, rec: TaskRecord): Op[] {
  return [submitOps(dag.paths, rec)[0]!, { op: 'create', path: dag.waiting(rec.id) }];
}

/** A dependent task's submit in one multi: its record (waiting, no queue entry), its parents and its waiting entry. */
export function dependentSubmitOps(dag: DagPaths, rec: TaskRecord, parentIds: readonly string[]): Op[] {
  const [record, waiting] = waitingRecordOps(dag, rec);
  return [record!, ...parentsNodeOps(dag, rec, parentIds), waiting!];
}

/**
 * Removes what a submit of `id` left without its record (a parents node and its listed
 * `chunkNames`, a waiting entry), guarded: the record is created and removed first, so the
 * multi is refused (NODE_EXISTS on the record) if the task exists after all.
 */
export function orphanClearOps(dag: DagPaths, id: string, parents: readonly string[] | null, waiting: boolean): Op[] {
  const ops: Op[] = [];
  if (parents) {
    for (const n of parents) ops.push({ op: 'remove', path: `${dag.parents(id)}/${n}` });
    ops.push({ op: 'remove', path: dag.parents(id) });
  }
  if (waiting) ops.push({ op: 'remove', path: dag.waiting(id) });
  if (ops.length === 0) return ops;
  const record = dag.paths.task(id);
  return [{ op: 'create', path: record }, { op: 'remove', path: record }, ...ops];
}

/** The reverse edges (parent → children, for `get`): one sequential chunk per parent per ≤ CHILD_CHUNK children. */
export function childEdgeOps(dag: DagPaths, edges: ReadonlyMap<string, readonly string[]>): Op[] {
  const ops: Op[] = [];
  for (const [parent, children] of edges) {
    for (const c of chunked(children, CHILD_CHUNK)) ops.push({ op: 'create', path: dag.childChunkPrefix(parent), data: json(c), mode: 'persistent_sequential' });
  }
  return ops;
}

/** Leader: a waiting task's parents are done: queued (its queue entry made), its waiting entry gone. */
export function releaseOps(paths: Paths, dag: DagPaths, cur: VersionedRecord, now: number): Transition {
  const next = releaseTask(cur.record, now);
  const data = encodeRecord(next);
  return {
    next,
    ops: [
      { op: 'setData', path: paths.task(next.id), data, version: cur.version },
      { op: 'create', path: queueEntryOf(paths, next, data.length) },
      { op: 'remove', path: dag.waiting(next.id) },
    ],
  };
}

/** Leader: a parent failed or was cancelled: the waiting task fails as dependency-failed (its done entry made). */
export function failDependencyOps(paths: Paths, dag: DagPaths, cur: VersionedRecord, parent: DecidingParent, now: number): Transition {
  const next = failDependency(cur.record, parent, now);
  return {
    next,
    ops: [
      { op: 'setData', path: paths.task(next.id), data: encodeRecord(next), version: cur.version },
      { op: 'create', path: doneEntryOf(paths, next) },
      { op: 'remove', path: dag.waiting(next.id) },
    ],
  };
}

/** A purged task's dependency nodes: its parents node and chunks (children of a node go first). */
export function purgeParentsOps(dag: DagPaths, childId: string, chunks: number): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < chunks; i++) ops.push({ op: 'remove', path: dag.parentChunk(childId, i) });
  ops.push({ op: 'remove', path: dag.parents(childId) });
  return ops;
}

export type { DecidingParent };
