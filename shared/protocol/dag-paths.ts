// Where task dependencies live (issue 15). Built on Paths (its shards, its checks), made on
// first use (ensureDagDirs), so a root of an older drover reads as "no dependencies".
//
// <root>/dag/parents/<shard>/<childId>          {count, onParentFailure, chunks}: a dependent task's parents,
//   /<chunk>                                    chunk 0000.. : JSON array of ≤ PARENT_CHUNK ids; kept while the record is
// <root>/dag/children/<shard>/<parentId>        empty: the tasks that depend on parentId (`get`'s children), made
//                                               (create, NodeExists fine) before the first multi writing into it
//   /e<seq>                                     sequential: JSON array of ≤ CHILD_CHUNK ids (one per parent per
//                                               submit multi); e0000000000.. in submit order (only retention removes)
// <root>/dag/waiting/<shard>/<childId>          empty: the task waits for its parents; removed in the multi that
//                                               queues it or fails it (dependency-failed) or cancels it
//
// The shard of every name is the task's own (paths.shard(id)): a child's nodes sit with its id,
// reverse edges with the parent's. No znode or listing grows with a fan-out or a fan-in beyond
// its chunks: 10 000 parents are 20 chunks of ≤ 500 ids (≤ ~100 KB each at 200-character ids);
// a parent's reverse edges are one directory of its own, read by its stat's numChildren and
// the first chunks by name (never a listing of other parents' edges).
// A parents node without a record (a submit that failed between its multis, a purge cut short)
// is inert (the leader lists only dag/waiting) and replaced by the next submit of that id.
import { assertTaskId, type Paths } from './paths.js';

/** Ids per chunk of a child's parent list (≤ 500 × 203 bytes ≈ 100 KB at the longest ids). */
export const PARENT_CHUNK = 500;
/** Ids per reverse-edge chunk. */
export const CHILD_CHUNK = 500;
/** Most parents a task may depend on. */
export const MAX_PARENTS = 10_000;

export class DagPaths {
  constructor(readonly paths: Paths) {}

  get parentsDir(): string {
    return `${this.paths.dag}/parents`;
  }
  get childrenDir(): string {
    return `${this.paths.dag}/children`;
  }
  get waitingDir(): string {
    return `${this.paths.dag}/waiting`;
  }
  parentsShard(shard: string): string {
    return `${this.parentsDir}/${shard}`;
  }
  childrenShard(shard: string): string {
    return `${this.childrenDir}/${shard}`;
  }
  waitingShard(shard: string): string {
    return `${this.waitingDir}/${shard}`;
  }

  /** A dependent task's parent list node. */
  parents(childId: string): string {
    assertTaskId(childId);
    return `${this.parentsShard(this.paths.shard(childId))}/${childId}`;
  }
  parentChunk(childId: string, chunk: number): string {
    return `${this.parents(childId)}/${String(chunk).padStart(4, '0')}`;
  }
  /** The directory of `parentId`'s reverse-edge chunks. */
  children(parentId: string): string {
    assertTaskId(parentId);
    return `${this.childrenShard(this.paths.shard(parentId))}/${parentId}`;
  }
  /** The prefix of a sequential reverse-edge chunk (ZooKeeper appends the 10-digit sequence). */
  childChunkPrefix(parentId: string): string {
    return `${this.children(parentId)}/e`;
  }
  /** The seq-th reverse-edge chunk of `parentId` (seq: the sequence ZooKeeper gave it, 0 first). */
  childChunk(parentId: string, seq: number): string {
    return `${this.childChunkPrefix(parentId)}${String(seq).padStart(10, '0')}`;
  }
  waiting(childId: string): string {
    assertTaskId(childId);
    return `${this.waitingShard(this.paths.shard(childId))}/${childId}`;
  }

  /** Every directory, parents first (ensureDagDirs creates the missing ones). */
  dirs(): string[] {
    const out = [this.paths.dag, this.parentsDir, this.childrenDir, this.waitingDir];
    for (const s of this.paths.shardNames) out.push(this.parentsShard(s), this.childrenShard(s), this.waitingShard(s));
    return out;
  }
}
