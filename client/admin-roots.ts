// The drover roots on an ensemble: a breadth-first walk from `/` (or a given path), a level at a
// time, that never descends into a root it found (a root may hold millions of znodes) and is
// bounded in depth and in znodes visited. A drover root is a znode whose child `layout` parses
// as a layout of this drover's format (shared/protocol/layout.ts), or one being destroyed (its
// `destroying` tombstone, client/admin-destroy.ts). No foreign znode's data is read: stats come
// from exists, names from listings, and only a small `layout` / `destroying` node is read.
import { parseLayout, type LayoutInfo } from '../shared/protocol/layout.js';
import { Paths } from '../shared/protocol/paths.js';
import { pooled } from '../shared/util/pool.js';
import { packBySize } from '../shared/util/pack.js';
import { fromClientError } from '../shared/zk/errors.js';
import type { ZkSession, ZkStat } from '../shared/zk/session.js';
import { REPLY_BUDGET_BYTES } from './record-reads.js';
import { LISTED_NAME_BYTES } from '../shared/zk/reply-estimates.js';
import { childCounts } from './shard-listing.js';

export interface RootInfo {
  root: string;
  /** `destroying`: an admin destroy began and did not finish (its tombstone); finish it with admin destroy. */
  state: 'ok' | 'destroying';
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

/** Why a walk did not see everything (roots may be missing). */
export interface RootSearchCuts {
  /** The znode budget ran out. */
  budget: boolean;
  /** Directories at the deepest level had children. */
  depth: boolean;
  /** Directories not listed: over LIST_MAX children. */
  big: Array<{ path: string; children: number }>;
  /** Directories this identity may not list (NO_AUTH). */
  unlistable: string[];
}

export interface RootSearch {
  roots: RootInfo[];
  /** Znodes whose stat the walk read. */
  visited: number;
  /** The walk was cut (see cuts): roots may be missing. */
  stopped: boolean;
  cuts: RootSearchCuts;
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
export const LIST_MAX = 2000;
/** Stat reads (exists) in flight: small replies, pipelined. */
const STAT_LANES = 64;
/** A `layout` or `destroying` node bigger than this is no drover's: not read. */
const MARK_MAX_BYTES = 4096;
const NO_NODE = -101;
const NO_AUTH = -102;

const child = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** The tombstone's data: what `admin roots` shows of a root being destroyed. */
export interface Tombstone {
  shards: number;
  createdAt: number;
  since: number;
}

export function parseTombstone(root: string, data: Buffer): Tombstone | null {
  try {
    const t = JSON.parse(data.toString('utf8')) as Partial<Tombstone> | null;
    if (!t || typeof t.createdAt !== 'number' || typeof t.since !== 'number') return null;
    new Paths(root, t.shards); // the one check of a shard count
    return t as Tombstone;
  } catch {
    return null;
  }
}

/** Each path's stat (null: absent), STAT_LANES exists in flight. */
async function statsOf(session: ZkSession, paths: readonly string[]): Promise<Array<ZkStat | null>> {
  const out = new Array<ZkStat | null>(paths.length).fill(null);
  const idx = paths.map((_, i) => i);
  await pooled(idx, async (i) => void (out[i] = await session.retrying(() => session.exists(paths[i]!))), STAT_LANES);
  return out;
}

/** Names of each directory (counts known), in multiReads packed by size; null: NO_AUTH (or gone: []). */
async function listAll(session: ZkSession, dirs: ReadonlyArray<{ path: string; count: number }>): Promise<Array<string[] | null>> {
  const out = new Array<string[] | null>(dirs.length).fill([]);
  const groups = packBySize(dirs.map((d, i) => ({ ...d, i })), (d) => d.count * LISTED_NAME_BYTES, REPLY_BUDGET_BYTES, 50);
  for (const g of groups) {
    const got = await session.retrying(() => session.getChildrenMany(g.map((d) => d.path), { maxPerRequest: g.length }));
    got.forEach((r, k) => {
      const i = g[k]!.i;
      if (r.ok) out[i] = r.children;
      else if (r.code === NO_AUTH) out[i] = null;
      else if (r.code !== NO_NODE) throw fromClientError(Object.assign(new Error(`ZooKeeper error ${r.code}`), { code: r.code }), { op: 'getChildren', path: dirs[i]!.path });
    });
  }
  return out;
}

type Found = { root: string; layout: LayoutInfo; state: RootInfo['state'] };

/**
 * What each candidate directory is: a root (its layout, or its tombstone), a root this identity
 * may not read, or neither. `layout`/`destroying` known to exist or not (null: look).
 * Requests: an exists per mark not known, one multiRead per 50 small marks.
 */
async function judge(session: ZkSession, dirs: string[]): Promise<Array<Found | 'unreadable' | null>> {
  const marks = dirs.flatMap((d) => [child(d, 'layout'), child(d, 'destroying')]);
  const stats = await statsOf(session, marks);
  const small = marks.filter((_, i) => stats[i] && stats[i]!.dataLength <= MARK_MAX_BYTES);
  const got = small.length ? await session.retrying(() => session.getDataMany(small, { maxPerRequest: 50 })) : [];
  const data = new Map(small.map((p, i) => [p, got[i]!]));
  return dirs.map((root) => {
    const l = data.get(child(root, 'layout'));
    const layout = l?.ok ? parseLayout(root, l.data) : null;
    if (layout) return { root, layout, state: 'ok' as const };
    const t = data.get(child(root, 'destroying'));
    const tomb = t?.ok ? parseTombstone(root, t.data) : null;
    if (tomb) return { root, layout: { format: 0, shards: tomb.shards, createdAt: tomb.createdAt }, state: 'destroying' as const };
    if ((l && !l.ok && l.code === NO_AUTH) || (t && !t.ok && t.code === NO_AUTH)) return 'unreadable';
    return null;
  });
}

/**
 * The drover roots under `opts.from`. Requests: an exists per visited znode (64 in flight); per
 * level, one multiRead per ~512 KiB of names listed; for each directory holding `layout` or
 * `destroying` (and each not listed: too big, too deep, over the budget) 2 exists and its small
 * marks in multiReads of 50; then one multiRead per 1024 of the roots' 2 + 2·shards directories.
 */
export async function findRoots(session: ZkSession, opts: RootSearchOptions = {}): Promise<RootSearch> {
  const maxDepth = opts.maxDepth ?? ROOTS_MAX_DEPTH;
  const maxVisited = opts.maxVisited ?? ROOTS_MAX_VISITED;
  let frontier = [opts.from ?? '/'];
  let visited = 0;
  const cuts: RootSearchCuts = { budget: false, depth: false, big: [], unlistable: [] };
  const found: Found[] = [];
  const unreadable: string[] = [];
  for (let depth = 0; frontier.length > 0; depth++) {
    if (visited + frontier.length > maxVisited) {
      frontier = frontier.slice(0, maxVisited - visited); // only at the start: later frontiers are bounded below
      cuts.budget = true;
    }
    const stats = await statsOf(session, frontier);
    visited += frontier.length;
    // Listed: their children are the next frontier, so their sum stays within the budget left.
    let room = maxVisited - visited;
    const toList: Array<{ path: string; count: number }> = [];
    const probe: string[] = [];
    frontier.forEach((path, i) => {
      const n = stats[i]?.numChildren ?? 0;
      if (n === 0) return;
      if (depth >= maxDepth) cuts.depth = true;
      else if (n > LIST_MAX) cuts.big.push({ path, children: n });
      else if (n > room) {
        cuts.budget = true;
        room = -1; // once one is over the budget, no later one is listed (the walk stays breadth first)
      } else return void (toList.push({ path, count: n }), (room -= n));
      probe.push(path);
    });
    const names = await listAll(session, toList);
    const listed = toList.map((d, i) => ({ path: d.path, names: names[i]! }));
    const locked = new Set(listed.filter((d) => d.names === null).map((d) => d.path));
    probe.push(...locked);
    const readable = listed.filter((d): d is { path: string; names: string[] } => d.names !== null);
    const candidates = [...readable.filter((d) => d.names.includes('layout') || d.names.includes('destroying')).map((d) => d.path), ...probe];
    const verdicts = new Map(candidates.map((c, i) => [c, i]));
    const judged = await judge(session, candidates);
    const next: string[] = [];
    for (const dir of frontier) {
      const at = verdicts.get(dir);
      const v = at === undefined ? null : judged[at]!;
      if (v === 'unreadable') unreadable.push(dir);
      else if (v) found.push(v);
      else if (locked.has(dir)) cuts.unlistable.push(dir);
    }
    for (const d of readable) {
      const at = verdicts.get(d.path);
      if (at !== undefined && judged[at] !== null) continue; // a root (or locked one): never walked into
      for (const n of d.names.sort()) if (!(d.path === '/' && n === 'zookeeper')) next.push(child(d.path, n));
    }
    frontier = next;
  }
  const stopped = cuts.budget || cuts.depth || cuts.big.length > 0 || cuts.unlistable.length > 0;
  return { roots: await describeRoots(session, found), visited, stopped, cuts, unreadable };
}

/** One root's figures, or null when `root` is not a drover root (no layout node, or not one this drover reads). */
export async function readRoot(session: ZkSession, root: string): Promise<RootInfo | null> {
  const paths = new Paths(root);
  const [l] = await session.retrying(() => session.getDataMany([paths.layout]));
  // Refused by its ACL: the plain read throws the session's one-line permission error.
  if (!l!.ok && l!.code === NO_AUTH) await session.getData(paths.layout);
  const layout = l!.ok ? parseLayout(root, l!.data) : null;
  if (!layout) return null;
  const [info] = await describeRoots(session, [{ root, layout, state: 'ok' }]);
  return info!;
}

/** Members and counts of each root from its directories' stats, all roots in the same multiReads. */
export async function describeRoots(session: ZkSession, found: readonly Found[]): Promise<RootInfo[]> {
  const dirs: string[] = [];
  const at: number[] = [];
  for (const { root, layout } of found) {
    const p = new Paths(root, layout.shards);
    at.push(dirs.length);
    dirs.push(p.election, p.workers, ...p.shardNames.map((s) => p.taskShard(s)), ...p.shardNames.map((s) => p.queueShard(s)));
  }
  const counts = await childCounts(session, dirs);
  const sum = (from: number, n: number) => counts.slice(from, from + n).reduce((t, c) => t + c, 0);
  return found.map(({ root, layout, state }, i) => {
    const a = at[i]!;
    const n = layout.shards;
    return { root, state, shards: n, createdAt: layout.createdAt, masters: counts[a]!, workers: counts[a + 1]!, tasks: sum(a + 2, n), queued: sum(a + 2 + n, n) };
  });
}
