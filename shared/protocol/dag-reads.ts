// Reads of task dependencies (layout: dag-paths.ts), and the one-time making of its directories.
import { NoNodeError, NodeExistsError } from '../zk/errors.js';
import type { Op, ZkSession } from '../zk/session.js';
import { pooled } from '../util/pool.js';
import type { DagPaths } from './dag-paths.js';
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
  // Parents first: dag/, then its three, then the shards (dirs() lists them in that order).
  const depth = (d: string) => d.split('/').length;
  const levels = [...new Set(missing.map(depth))].sort((a, b) => a - b);
  for (const l of levels) await Promise.all(missing.filter((d) => depth(d) === l).map((d) => createDir(session, d)));
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

/** What readChildren found of a parent's reverse edges. */
export interface ChildEdges {
  /** Ids of the chunks read, first submitted first, without repeats. */
  ids: string[];
  /** Chunks the parent has (its directory's numChildren). */
  chunks: number;
  /** Whether every chunk was read (chunks ≤ maxChunks). */
  complete: boolean;
}

/**
 * The tasks that depend on `parentId` (its reverse-edge chunks), first submitted first.
 * Bounded: 1 stat of its directory (numChildren), then ≤ maxChunks chunks in multiReads of
 * CHUNKS_PER_READ: listed when that is all of them, else the first maxChunks by name
 * (sequential from 0, and only retention removes any).
 */
export async function readChildren(session: ZkSession, dag: DagPaths, parentId: string, maxChunks: number): Promise<ChildEdges> {
  const dir = dag.children(parentId);
  const stat = await session.retrying(() => session.exists(dir));
  if (!stat || stat.numChildren === 0) return { ids: [], chunks: 0, complete: true };
  const complete = stat.numChildren <= maxChunks;
  let paths: string[];
  if (complete) {
    try {
      paths = (await session.retrying(() => session.getChildren(dir))).children.sort().map((n) => `${dir}/${n}`);
    } catch (err) {
      if (err instanceof NoNodeError) return { ids: [], chunks: 0, complete: true };
      throw err;
    }
  } else paths = Array.from({ length: maxChunks }, (_, i) => dag.childChunk(parentId, i));
  const seen = new Set<string>();
  const rs = await session.retrying(() => session.getDataMany(paths, { maxPerRequest: CHUNKS_PER_READ }));
  for (const r of rs) if (r.ok) for (const id of JSON.parse(r.data.toString('utf8')) as string[]) seen.add(id);
  return { ids: [...seen], chunks: stat.numChildren, complete };
}

/** All the tasks that depend on `parentId` (every chunk: for a parent of a bounded fan-out, and tests). */
export async function readChildIds(session: ZkSession, dag: DagPaths, parentId: string): Promise<string[]> {
  return (await readChildren(session, dag, parentId, Infinity)).ids;
}

/** Reverse-edge directories created per multi (paths ≤ ~260 bytes: ≤ ~52 KB). */
const DIRS_PER_MULTI = 200;

/**
 * Makes the reverse-edge directories of `parentIds` (a multi's distinct parents) before the
 * multi that writes chunks into them: which exist (getDataMany of ≤ 100), then the missing
 * in multis of ≤ DIRS_PER_MULTI creates; a multi refused because one was made meanwhile goes
 * again one create at a time (NodeExists fine). 10 000 parents: 100 multiReads + ≤ 50 multis.
 */
export async function ensureChildDirs(session: ZkSession, dag: DagPaths, parentIds: Iterable<string>): Promise<void> {
  const dirs = [...parentIds].map((p) => dag.children(p));
  if (dirs.length === 0) return;
  const rs = await session.retrying(() => session.getDataMany(dirs));
  const missing = dirs.filter((_, i) => {
    const r = rs[i]!;
    if (r.ok || r.code === NO_NODE) return !r.ok;
    throw new Error(`reading ${dirs[i]} failed (ZooKeeper error ${r.code})`);
  });
  for (let i = 0; i < missing.length; i += DIRS_PER_MULTI) {
    const part = missing.slice(i, i + DIRS_PER_MULTI);
    try {
      await session.retrying(() => session.multi(part.map((path): Op => ({ op: 'create', path }))));
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
      await pooled(part, async (d) => void (await createDir(session, d)), 16);
    }
  }
}

/** Which of `paths` exist (a multiRead of getChildren per ≤ 100: small replies for leaf nodes, NO_NODE = missing). */
export async function existing(session: ZkSession, paths: readonly string[]): Promise<boolean[]> {
  const rs = await session.retrying(() => session.getChildrenMany(paths, { maxPerRequest: 100 }));
  return rs.map((r, i) => {
    if (r.ok) return true;
    if (r.code === NO_NODE) return false;
    throw new Error(`reading ${paths[i]} failed (ZooKeeper error ${r.code})`);
  });
}

/** Creates a directory; one that exists already (a racing submit made it) is fine. */
function createDir(session: ZkSession, d: string): Promise<string> {
  return session.retrying(() =>
    session.create(d).catch((err) => {
      if (!(err instanceof NodeExistsError)) throw err;
      return d;
    }),
  );
}
