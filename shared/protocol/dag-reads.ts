// Reads of task dependencies (layout: dag-paths.ts), and the one-time making of its directories.
import { NoNodeError, NodeExistsError } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';
import { DagPaths } from './dag-paths.js';
import type { ParentsNode } from './dag-ops.js';

const NO_NODE = -101;
/** Paths per multiRead (chunks of ≤ 500 ids: ≤ ~100 KB each at the longest ids, so ≤ 4 a request keeps a reply ≤ ~400 KB). */
const CHUNKS_PER_READ = 4;

/**
 * Creates the dag directories that are missing: one multiRead (getChildren of dag/ and its
 * three directories), then creates, pipelined (NodeExists is fine: another client raced us).
 * The session creates them with the root's ACL. Idempotent: 1 request when all exist.
 */
export async function ensureDagDirs(session: ZkSession, dag: DagPaths): Promise<void> {
  const top = [dag.parentsDir, dag.childrenDir, dag.waitingDir];
  const listed = await session.retrying(() => session.getChildrenMany([dag.paths.dag, ...top]));
  const have = new Set<string>();
  listed.forEach((r, i) => {
    const dir = i === 0 ? dag.paths.dag : top[i - 1]!;
    if (r.ok) {
      have.add(dir);
      for (const c of r.children) have.add(`${dir}/${c}`);
    }
  });
  const missing = dag.dirs().filter((d) => !have.has(d));
  if (missing.length === 0) return;
  const create = (d: string) =>
    session.retrying(() =>
      session.create(d).catch((err) => {
        if (!(err instanceof NodeExistsError)) throw err;
        return d;
      }),
    );
  // Parents first: dag/, then its three, then the shards (dirs() lists them in that order).
  const depth = (d: string) => d.split('/').length;
  const levels = [...new Set(missing.map(depth))].sort((a, b) => a - b);
  for (const l of levels) await Promise.all(missing.filter((d) => depth(d) === l).map(create));
}

/** A dependent task's parents node, or null (no dependencies, or purged). */
export async function readParentsNode(session: ZkSession, dag: DagPaths, childId: string): Promise<ParentsNode | null> {
  try {
    const { data } = await session.retrying(() => session.getData(dag.parents(childId)));
    return JSON.parse(data.toString('utf8')) as ParentsNode;
  } catch (err) {
    if (err instanceof NoNodeError) return null;
    throw err;
  }
}

/** A dependent task's parent ids (the node, then its chunks in multiReads), or null without any. */
export async function readParentIds(session: ZkSession, dag: DagPaths, childId: string): Promise<string[] | null> {
  const node = await readParentsNode(session, dag, childId);
  if (!node) return null;
  const paths = Array.from({ length: node.chunks }, (_, i) => dag.parentChunk(childId, i));
  const rs = await session.retrying(() => session.getDataMany(paths, { maxPerRequest: CHUNKS_PER_READ }));
  const ids: string[] = [];
  rs.forEach((r, i) => {
    if (!r.ok) {
      if (r.code === NO_NODE) return; // purged as we read
      throw new Error(`reading ${paths[i]} failed (ZooKeeper error ${r.code})`);
    }
    ids.push(...(JSON.parse(r.data.toString('utf8')) as string[]));
  });
  return ids;
}

/**
 * The ids of the tasks that depend on `parentId` (its reverse-edge chunks), first submitted
 * first, without repeats. Bounded: one listing of the parent's shard of dag/children (its
 * chunks and those of the other parents hashed there), then its own chunks in multiReads.
 * `limit`: stop reading chunks once that many ids are known (the count of chunks is still known).
 */
export async function readChildIds(session: ZkSession, dag: DagPaths, parentId: string, limit = Infinity): Promise<string[]> {
  const shard = dag.childrenShard(dag.paths.shard(parentId));
  let names: string[];
  try {
    ({ children: names } = await session.retrying(() => session.getChildren(shard)));
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
  const mine = childChunkNames(names, parentId).sort();
  const seen = new Set<string>();
  for (let i = 0; i < mine.length && seen.size < limit; i += CHUNKS_PER_READ) {
    const paths = mine.slice(i, i + CHUNKS_PER_READ).map((n) => `${shard}/${n}`);
    const rs = await session.retrying(() => session.getDataMany(paths));
    for (const r of rs) if (r.ok) for (const id of JSON.parse(r.data.toString('utf8')) as string[]) seen.add(id);
  }
  return [...seen];
}

/** Which of a dag/children shard's names are `parentId`'s reverse-edge chunks. */
export function childChunkNames(names: readonly string[], parentId: string): string[] {
  return names.filter((n) => DagPaths.parentOfChunk(n) === parentId);
}
