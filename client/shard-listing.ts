// Reading the sharded directories (queue/, done/, assign/) the cheap way, for status and
// list: their sizes from one multiRead of stats, their names in multiReads packed so that a
// reply stays near REPLY_BUDGET_BYTES, never a request per shard.
import { fromClientError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { packBySize } from '../shared/util/pack.js';
import { REPLY_BUDGET_BYTES } from './record-reads.js';
import { LISTED_NAME_BYTES } from '../shared/zk/reply-estimates.js';

/** Stats per multiRead: an empty directory's reply item is ~80 bytes, so 1024 are ~80 KiB. */
const STATS_PER_REQUEST = 1024;
const NO_NODE = -101;

/** Each directory's child count (0 when it is missing), in one multiRead per STATS_PER_REQUEST. */
export async function childCounts(session: ZkSession, dirs: readonly string[]): Promise<number[]> {
  if (dirs.length === 0) return [];
  const got = await session.retrying(() => session.getDataMany(dirs, { maxPerRequest: STATS_PER_REQUEST }));
  return got.map((r) => (r.ok ? r.stat.numChildren : 0));
}

/**
 * Lists directories whose child counts are known (childCounts), in multiReads packed by those
 * counts; `each` gets each directory's names as its reply comes (a missing one: none). A
 * directory estimated over the budget is listed alone.
 */
export async function listDirs(
  session: ZkSession,
  dirs: ReadonlyArray<{ path: string; count: number }>,
  each: (index: number, names: string[]) => void,
): Promise<void> {
  const items = dirs.map((d, i) => ({ ...d, i })).filter((d) => d.count > 0);
  const groups = packBySize(items, (d) => d.count * LISTED_NAME_BYTES, REPLY_BUDGET_BYTES, 50);
  for (const g of groups) {
    const got = await session.retrying(() => session.getChildrenMany(g.map((d) => d.path), { maxPerRequest: g.length }));
    got.forEach((r, k) => {
      if (r.ok) each(g[k]!.i, r.children);
      else if (r.code !== NO_NODE) throw fromClientError(Object.assign(new Error(`ZooKeeper error ${r.code}`), { code: r.code }), { op: 'getChildren', path: g[k]!.path });
    });
  }
}
