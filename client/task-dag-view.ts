// What `get` shows of a task's dependencies: its parents (ids with their states) and its
// children (ids), the first SHOWN of each and a count. Bounded: the parents node and its first
// chunk (1 getData + 1 multiRead) and ≤ SHOWN parent records (multiReads near a reply budget);
// a stat of the parent's reverse-edge directory and ≤ MAX_CHILD_CHUNKS of its chunks (multiReads of 4).
import { DagPaths, PARENT_CHUNK } from '../shared/protocol/dag-paths.js';
import { readChildren, readParentsNode } from '../shared/protocol/dag-reads.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import type { ZkSession } from '../shared/zk/session.js';
import { readMany, RecordSizes } from './record-reads.js';

/** Ids shown of each list. */
export const SHOWN = 100;
/** Reverse-edge chunks read at most for the count (≤ 500 ids each; a 10 000 fan-out of one call is 50). */
export const MAX_CHILD_CHUNKS = 50;

export interface ParentsView {
  /** How many parents it has. */
  count: number;
  onParentFailure: 'fail' | 'run';
  /** The first SHOWN, in submit order; state null: the record is gone (purged) or unreadable. */
  shown: Array<{ id: string; state: TaskState | null }>;
}

export interface ChildrenView {
  /** Children known: all of them when `complete`, else at least this many. */
  count: number;
  complete: boolean;
  /** The first SHOWN, first submitted first. */
  shown: string[];
}

export async function parentsView(session: ZkSession, paths: Paths, id: string): Promise<ParentsView | undefined> {
  const dag = new DagPaths(paths);
  const node = await readParentsNode(session, dag, id);
  if (!node) return undefined;
  let first: string[] = [];
  if (node.chunks > 0) {
    const [r] = await session.retrying(() => session.getDataMany([dag.parentChunk(id, 0)]));
    if (r?.ok) first = (JSON.parse(r.data.toString('utf8')) as string[]).slice(0, Math.min(SHOWN, PARENT_CHUNK));
  }
  const states = new Map<string, TaskState>();
  await readMany(session, paths, new RecordSizes(), first, (group, outcomes) => {
    outcomes.forEach((o, i) => {
      if (o.kind === 'record' && o.rec) states.set(group[i]!, o.rec.state);
    });
  });
  return { count: node.count, onParentFailure: node.onParentFailure, shown: first.map((p) => ({ id: p, state: states.get(p) ?? null })) };
}

export async function childrenView(session: ZkSession, paths: Paths, id: string): Promise<ChildrenView | undefined> {
  const { ids, complete } = await readChildren(session, new DagPaths(paths), id, MAX_CHILD_CHUNKS);
  if (ids.length === 0) return undefined;
  return { count: ids.length, complete, shown: ids.slice(0, SHOWN) };
}
