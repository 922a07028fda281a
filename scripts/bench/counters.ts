// Per-process ZooKeeper request counters (`zkCounters` of shared/zk/session.ts: every request
// any ZkSession of this process sent, `ops` counting the operations inside multis). Read by
// name, so the bench still runs (saying "n/a") on a tree where the counters are not there.
import * as sessionModule from '../../shared/zk/session.js';

export interface ZkCounts {
  requests: number;
  ops: number;
  reads: number;
  writes: number;
  byKind: Record<string, number>;
}

/** A copy of this process's counters now, or null when the session module has none. */
export function readZkCounters(): ZkCounts | null {
  const c = (sessionModule as unknown as Record<string, unknown>).zkCounters as Partial<ZkCounts> | undefined;
  if (!c || typeof c.requests !== 'number' || typeof c.ops !== 'number') return null;
  return {
    requests: c.requests,
    ops: c.ops,
    reads: typeof c.reads === 'number' ? c.reads : NaN,
    writes: typeof c.writes === 'number' ? c.writes : NaN,
    byKind: { ...(c.byKind ?? {}) },
  };
}

export const zeroCounts = (): ZkCounts => ({ requests: 0, ops: 0, reads: 0, writes: 0, byKind: {} });

/** b − a, field by field (byKind too). */
export function diffCounts(a: ZkCounts, b: ZkCounts): ZkCounts {
  const byKind: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a.byKind), ...Object.keys(b.byKind)])) {
    const d = (b.byKind[k] ?? 0) - (a.byKind[k] ?? 0);
    if (d) byKind[k] = d;
  }
  return { requests: b.requests - a.requests, ops: b.ops - a.ops, reads: b.reads - a.reads, writes: b.writes - a.writes, byKind };
}

export function addCounts(a: ZkCounts, b: ZkCounts): ZkCounts {
  const byKind: Record<string, number> = { ...a.byKind };
  for (const [k, v] of Object.entries(b.byKind)) byKind[k] = (byKind[k] ?? 0) + v;
  return { requests: a.requests + b.requests, ops: a.ops + b.ops, reads: a.reads + b.reads, writes: a.writes + b.writes, byKind };
}
