// Where task dependencies live (issue 15). Built on Paths (its shards, its checks), made on
// first use (ensureDagDirs), so a root of an older drover reads as "no dependencies".
//
// <root>/dag/parents/<shard>/<childId>          {count, onParentFailure, chunks}: a dependent task's parents,
//   /<chunk>                                    chunk 0000.. : JSON array of ≤ PARENT_CHUNK ids; kept while the record is
// <root>/dag/children/<shard>/<parentId>~<seq>  sequential: JSON array of ≤ CHILD_CHUNK ids of tasks that depend on
//                                               parentId (one per parent per submit multi): `get`'s children, flat so
//                                               that no directory per parent need exist before a multi creates into it
// <root>/dag/waiting/<shard>/<childId>          empty: the task waits for its parents; removed in the multi that
//                                               queues it or fails it (dependency-failed) or cancels it
//
// The shard of every name is the task's own (paths.shard(id)): a child's nodes sit with its id,
// reverse edges with the parent's. No znode or listing grows with a fan-out or a fan-in beyond
// its chunks: 10 000 parents are 20 chunks of ≤ 500 ids (≤ ~100 KB each at 200-character ids).
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
  /** The prefix of a sequential reverse-edge chunk (ZooKeeper appends the 10-digit sequence). */
  childChunkPrefix(parentId: string): string {
    assertTaskId(parentId);
    return `${this.childrenShard(this.paths.shard(parentId))}/${parentId}~`;
  }
  /** The parent id a reverse-edge chunk's name belongs to, or null. */
  static parentOfChunk(name: string): string | null {
    const i = name.lastIndexOf('~');
    return i > 0 && /^\d{10}$/.test(name.slice(i + 1)) ? name.slice(0, i) : null;
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
