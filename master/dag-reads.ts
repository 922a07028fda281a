// The dependency releaser's reads (dag-release.ts): the waiting index listed shard by shard,
// and task records read in multiReads packed by size (dag-sizes.ts's decaying estimates: a
// record's size is not known before it is read, and one may be ~1 MB), so a reply stays near
// 512 KiB once records of that size have been seen (the limits of the estimate: dag-sizes.ts); each record is reduced (keep) as its reply comes, so a registration over
// 10 000 parents holds 10 000 states, not 10 000 results. Nothing here reads the queue or the
// finished backlog.
import type { ParentsNode } from '../shared/protocol/dag-ops.js';
import { MAX_PARENTS, PARENT_CHUNK, type DagPaths } from '../shared/protocol/dag-paths.js';
import { packBySize } from '../shared/util/pack.js';
import type { Paths } from '../shared/protocol/paths.js';
import { MalformedRecordError, decodeRecord } from '../shared/protocol/task-record.js';
import type { VersionedRecord } from '../shared/protocol/task-ops.js';
import type { ZkSession } from '../shared/zk/session.js';
import { IN_FLIGHT, pooled } from '../shared/util/pool.js';
import type { DecayingSizes } from './dag-sizes.js';
import type { ParentEnd } from './dag-index.js';

const NO_NODE = -101;
/** What one listing reply may hold (bytes, estimated). */
const LISTING_BUDGET = 256 * 1024;
const MAX_SHARDS_PER_REQUEST = 50;

/** Bytes an id may take in a chunk's JSON at most (200 characters, quotes, comma). */
const ID_BYTES = 203;
/** A multiRead reply of chunks is estimated at most this. */
const CHUNK_BUDGET = 400 * 1024;
const MAX_READS = 100;

/** A waiting child's parents as its dag/parents node and chunks hold them. */
export interface ParentList {
  ids: string[];
  onParentFailure: ParentsNode['onParentFailure'];
}

/** A record as read; 'error': a ZooKeeper error other than NONODE (an ACL, say), for this record alone. */
export type RecordRead = { kind: 'record'; cur: VersionedRecord } | { kind: 'missing' } | { kind: 'malformed'; message: string } | { kind: 'error'; message: string };

/**
 * Lists every shard of dag/waiting (a missing directory holds nothing: a root where no
 * dependent was ever submitted), `each` getting a shard's names as its reply comes. A request
 * takes as many shards as the biggest seen so far, twice over, fits in LISTING_BUDGET (one at
 * first). A failed request throws (the caller lists again).
 */
export async function listWaiting(session: ZkSession, dag: DagPaths, each: (names: string[]) => void, alive: () => boolean): Promise<void> {
  // No waiting directory (a root where no dependent was ever submitted): one request, nothing to list.
  const [top] = await session.retrying(() => session.getChildrenMany([dag.waitingDir]));
  if (!top?.ok) {
    if (top?.code === NO_NODE) return;
    throw new Error(`listing ${dag.waitingDir} failed with ZooKeeper error ${top?.code}`);
  }
  const todo = [...dag.paths.shardNames];
  let biggest: number | null = null;
  while (todo.length > 0 && alive()) {
    const n = biggest === null ? 1 : Math.max(1, Math.min(MAX_SHARDS_PER_REQUEST, Math.floor(LISTING_BUDGET / (2 * Math.max(1, biggest)))));
    const shards = todo.splice(0, n);
    const got = await session.retrying(() => session.getChildrenMany(shards.map((s) => dag.waitingShard(s)), { maxPerRequest: shards.length }));
    for (const r of got) {
      if (!r.ok) {
        if (r.code === NO_NODE) {
          biggest ??= 0;
          continue;
        }
        throw new Error(`listing dag/waiting failed with ZooKeeper error ${r.code}`);
      }
      let bytes = 0;
      for (const name of r.children) bytes += 4 + name.length;
      biggest = Math.max(biggest ?? 0, bytes);
      if (r.children.length > 0) each(r.children);
    }
  }
}

/**
 * Reads the records of `ids` (deduplicated by the caller) with their versions, in multiReads
 * of ≤ 100 whose replies are estimated ≤ 512 KiB (`sizes` learns from every reply; a probe
 * first when its estimate has decayed; each request sized as it is sent), a few in flight; each read is reduced by `keep` at once (the decoded record is not held). A
 * failed request throws (connection loss past the session's retries).
 */
export async function readRecords<T>(session: ZkSession, paths: Paths, sizes: DecayingSizes, ids: readonly string[], keep: (read: RecordRead, id: string) => T): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  const group = async (g: readonly string[]) => {
    const got = await session.retrying(() => session.getDataMany(g.map((id) => paths.task(id)), { maxPerRequest: g.length }));
    got.forEach((r, i) => {
      const id = g[i]!;
      if (!r.ok) {
        out.set(id, keep(r.code === NO_NODE ? { kind: 'missing' } : { kind: 'error', message: `ZooKeeper error ${r.code}` }, id));
        return;
      }
      sizes.note(r.data.length);
      let read: RecordRead;
      try {
        read = { kind: 'record', cur: { record: decodeRecord(r.data, id), version: r.stat.version } };
      } catch (err) {
        if (!(err instanceof MalformedRecordError)) throw err;
        read = { kind: 'malformed', message: err.message };
      }
      out.set(id, keep(read, id));
    });
  };
  const probe = sizes.probe(ids);
  if (probe.length > 0) await group(probe);
  // Each request sized as it is sent, from the estimate the replies so far have raised.
  let next = probe.length;
  let failed = false;
  await pooled(Array.from({ length: IN_FLIGHT }, (_, i) => i), async () => {
    while (!failed && next < ids.length) {
      const g = ids.slice(next, next + sizes.perRequest());
      next += g.length;
      await group(g).catch((err: unknown) => {
        failed = true;
        throw err;
      });
    }
  });
  return out;
}

/** A child's parents node as read: null when it is gone (with its record); 'unreadable' with why. */
export type NodeRead = ParentsNode | null | { unreadable: string };

/** The parents nodes of many waiting children, in multiReads of 100 (each a few dozen bytes). */
export async function readParentNodes(session: ZkSession, dag: DagPaths, childIds: readonly string[]): Promise<Map<string, NodeRead>> {
  const out = new Map<string, NodeRead>();
  await pooled(packBySize(childIds, () => 1, MAX_READS, MAX_READS), async (g) => {
    const got = await session.retrying(() => session.getDataMany(g.map((c) => dag.parents(c)), { maxPerRequest: g.length }));
    got.forEach((r, i) => {
      const c = g[i]!;
      if (!r.ok) return void out.set(c, r.code === NO_NODE ? null : { unreadable: `ZooKeeper error ${r.code}` });
      out.set(c, parseNode(r.data));
    });
  });
  return out;
}

function parseNode(data: Buffer): NodeRead {
  try {
    const n = JSON.parse(data.toString('utf8')) as Partial<ParentsNode> | null;
    const int = (x: unknown): x is number => Number.isInteger(x) && (x as number) >= 0;
    if (!n || !int(n.count) || n.count < 1 || n.count > MAX_PARENTS || !(n.onParentFailure === 'fail' || n.onParentFailure === 'run')) return { unreadable: 'not a parents node' };
    // The chunk count is what a submit writes for `count` ids: {count: 1, chunks: 1e9} would have the leader read a billion chunks.
    if (n.chunks !== Math.ceil(n.count / PARENT_CHUNK)) return { unreadable: `chunks ${String(n.chunks)} do not match count ${n.count}` };
    return n as ParentsNode;
  } catch (err) {
    return { unreadable: (err as Error).message };
  }
}

/** A child's parent list: null when gone, 'unreadable' (a chunk not a JSON array of ids, a ZooKeeper error) with why. */
export type ListRead = ParentList | null | { unreadable: string };

/**
 * The parent lists of children whose nodes were read (readParentNodes): every chunk in
 * multiReads packed by the ids each holds (known from the node's count) at the longest ids,
 * so a reply stays ≤ ~400 KB: 10 000 children of one parent each cost ~200 requests, not 20 000.
 * The same reads as shared/protocol/dag-reads.ts's readParentIds, for many children at once.
 */
export async function readParentLists(session: ZkSession, dag: DagPaths, nodes: ReadonlyMap<string, ParentsNode>): Promise<Map<string, ListRead>> {
  const out = new Map<string, ListRead>();
  const chunks: Array<{ child: string; chunk: number; ids: number }> = [];
  for (const [child, n] of nodes) {
    out.set(child, { ids: [], onParentFailure: n.onParentFailure });
    for (let i = 0; i < n.chunks; i++) chunks.push({ child, chunk: i, ids: Math.min(PARENT_CHUNK, n.count - i * PARENT_CHUNK) });
  }
  const parts = new Map<string, string[][]>();
  await pooled(packBySize(chunks, (c) => 16 + Math.max(1, c.ids) * ID_BYTES, CHUNK_BUDGET, MAX_READS), async (g) => {
    const got = await session.retrying(() => session.getDataMany(g.map((c) => dag.parentChunk(c.child, c.chunk)), { maxPerRequest: g.length }));
    got.forEach((r, i) => {
      const c = g[i]!;
      const cur = out.get(c.child);
      if (!cur || !('ids' in cur)) return; // gone or unreadable already
      if (!r.ok) return void out.set(c.child, r.code === NO_NODE ? null : { unreadable: `ZooKeeper error ${r.code} on chunk ${c.chunk}` }); // NONODE: purged as we read
      const ids = parseChunk(r.data);
      if (!ids) return void out.set(c.child, { unreadable: `chunk ${c.chunk} is not a list of ids` });
      let p = parts.get(c.child);
      if (!p) parts.set(c.child, (p = []));
      p[c.chunk] = ids;
    });
  });
  for (const [child, p] of parts) {
    const l = out.get(child);
    if (l && 'ids' in l) l.ids = p.flat();
  }
  return out;
}

function parseChunk(data: Buffer): string[] | null {
  try {
    const v = JSON.parse(data.toString('utf8')) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : null;
  } catch {
    return null;
  }
}

/**
 * How a parent ended, from its record as read; null: it has not (yet: or again, after a retry).
 * A missing record is 'gone': purged by the retention while the child waited, or never
 * written. It is not taken for a success: the child's handler could not see its result, and
 * "runs once every parent succeeded" would not hold; a child with onParentFailure 'run' runs.
 * A malformed record is failed by the leader's reconcile like any other, and read again then;
 * one that cannot be read (an ACL) counts as not ended (its done entry brings it back).
 */
export function parentEnd(read: RecordRead | undefined): ParentEnd | null {
  if (!read || read.kind === 'missing') return 'gone';
  if (read.kind !== 'record') return null;
  const s = read.cur.record.state;
  return s === 'succeeded' || s === 'failed' || s === 'cancelled' ? s : null;
}
