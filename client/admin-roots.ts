// The drover roots on an ensemble: a breadth-first walk from `/` (or a given path) that reads a
// level at a time in multiReads, never descends into a root it found (a root may hold millions
// of znodes), and is bounded in depth and in znodes visited. A drover root is a znode whose
// child `layout` parses as a layout of this drover's format (shared/protocol/layout.ts).
import { parseLayout, type LayoutInfo } from '../shared/protocol/layout.js';
import { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { childCounts, listDirs } from './shard-listing.js';

export interface RootInfo {
  root: string;
  shards: number;
  /** When the layout was written (ms since the epoch). */
  createdAt: number;
  /** Master candidates in the election (each a live session). */
  masters: number;
  /** Live worker sessions. */
  workers: number;
  /** Task records, in any state. */
  tasks: number;
  queued: number;
}

export interface RootSearch {
  roots: RootInfo[];
  /** Znodes whose stat the walk read. */
  visited: number;
  /** The walk was cut (depth, znode budget, or a directory too big to list): roots may be missing. */
  stopped: boolean;
  /** Znodes whose `layout` child this identity may not read (NO_AUTH): roots locked by their ACL, not descended into. */
  unreadable: string[];
}

export interface RootSearchOptions {
  /** Where the walk starts (default `/`). */
  from?: string;
  /** Deepest level visited, `/` being 0 (default 8). */
  maxDepth?: number;
  /** Znodes visited at most (default 10 000). */
  maxVisited?: number;
}

export const ROOTS_MAX_DEPTH = 8;
export const ROOTS_MAX_VISITED = 10_000;
/** A non-root directory with more children than this is not listed: its reply could near 1 MB (names up to ~240 bytes). */
const LIST_MAX = 2000;
/** Stats per multiRead: a foreign znode's data comes with its stat (multiRead has no stat-only read), so few at a time. */
const STATS_PER_REQUEST = 50;
const NO_AUTH = -102;

const child = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/**
 * The drover roots under `opts.from`. Requests: per level, ⌈2·F/50⌉ multiReads for the stats
 * and layout nodes of its F znodes and one multiRead per ~512 KiB of names listed; then one
 * multiRead per 1024 of the roots' 2 + 2·shards directories for their counts.
 */
export async function findRoots(session: ZkSession, opts: RootSearchOptions = {}): Promise<RootSearch> {
  const maxDepth = opts.maxDepth ?? ROOTS_MAX_DEPTH;
  const maxVisited = opts.maxVisited ?? ROOTS_MAX_VISITED;
  let frontier = [opts.from ?? '/'];
  let visited = 0;
  let stopped = false;
  const found: Array<{ root: string; layout: LayoutInfo }> = [];
  const unreadable: string[] = [];
  for (let depth = 0; frontier.length > 0; depth++) {
    if (visited + frontier.length > maxVisited) {
      frontier = frontier.slice(0, maxVisited - visited);
      stopped = true;
    }
    visited += frontier.length;
    const read = (paths: string[]) => session.retrying(() => session.getDataMany(paths, { maxPerRequest: STATS_PER_REQUEST }));
    const [selves, layouts] = await Promise.all([read(frontier), read(frontier.map((p) => child(p, 'layout')))]);
    const toList: Array<{ path: string; count: number }> = [];
    frontier.forEach((path, i) => {
      const l = layouts[i]!;
      const layout = l.ok ? parseLayout(path, l.data) : null;
      if (layout) return void found.push({ root: path, layout });
      if (!l.ok && l.code === NO_AUTH) return void unreadable.push(path);
      const s = selves[i]!;
      if (!s.ok || s.stat.numChildren === 0) return;
      if (depth >= maxDepth || s.stat.numChildren > LIST_MAX) stopped = true;
      else toList.push({ path, count: s.stat.numChildren });
    });
    const next: string[] = [];
    await listDirs(session, toList, (i, names) => {
      const dir = toList[i]!.path;
      for (const n of names.sort()) if (!(dir === '/' && n === 'zookeeper')) next.push(child(dir, n));
    });
    frontier = next;
  }
  return { roots: await describeRoots(session, found), visited, stopped, unreadable };
}

/** One root's figures, or null when `root` is not a drover root (no layout node, or not one this drover reads). */
export async function readRoot(session: ZkSession, root: string): Promise<RootInfo | null> {
  const paths = new Paths(root);
  const [l] = await session.retrying(() => session.getDataMany([paths.layout]));
  // Refused by its ACL: the plain read throws the session's one-line permission error.
  if (!l!.ok && l!.code === NO_AUTH) await session.getData(paths.layout);
  const layout = l!.ok ? parseLayout(root, l!.data) : null;
  if (!layout) return null;
  const [info] = await describeRoots(session, [{ root, layout }]);
  return info!;
}

/** Members and counts of each root from its directories' stats, all roots in the same multiReads. */
async function describeRoots(session: ZkSession, found: ReadonlyArray<{ root: string; layout: LayoutInfo }>): Promise<RootInfo[]> {
  const dirs: string[] = [];
  const at: number[] = [];
  for (const { root, layout } of found) {
    const p = new Paths(root, layout.shards);
    at.push(dirs.length);
    dirs.push(p.election, p.workers, ...p.shardNames.map((s) => p.taskShard(s)), ...p.shardNames.map((s) => p.queueShard(s)));
  }
  const counts = await childCounts(session, dirs);
  const sum = (from: number, n: number) => counts.slice(from, from + n).reduce((t, c) => t + c, 0);
  return found.map(({ root, layout }, i) => {
    const a = at[i]!;
    const n = layout.shards;
    return { root, shards: n, createdAt: layout.createdAt, masters: counts[a]!, workers: counts[a + 1]!, tasks: sum(a + 2, n), queued: sum(a + 2 + n, n) };
  });
}
