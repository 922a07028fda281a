// The leader's release of waiting dependent tasks (issue 15): many children in ONE fenced
// multi, each item either queued (releaseOps) or failed as dependency-failed
// (failDependencyOps); the ops are dag-ops.ts's. `fenced`: deposed. `moved`: the named item
// changed under us (cancelled, say) and nothing of the multi was written; `unknown`: the
// caller reads back. Either way the record's version check makes a second release impossible.
import type { BatchLimits } from './client-transitions.js';
import { failDependencyOps, releaseOps } from './dag-ops.js';
import type { DagPaths } from './dag-paths.js';
import { Multi, type BatchVerdict, type LeaderTx } from './multi.js';
import type { VersionedRecord } from './task-ops.js';

export interface ReleaseItem {
  /** The waiting child as read (its version is checked). */
  cur: VersionedRecord;
  /** Absent: queue it. Present: fail it, naming the parent that decided. */
  failedBy?: { id: string; state: string };
}

/** Most children in one release multi (the leader's batch size, as for assignments). */
export const RELEASE_LIMITS: BatchLimits = { maxItems: 100, maxBytes: 400 * 1024 };

/** Releases or fails items[from..] in one fenced multi, as many as fit `limits` (at least one). */
export async function releaseBatch(tx: LeaderTx, dag: DagPaths, items: readonly ReleaseItem[], from: number, limits: BatchLimits = RELEASE_LIMITS, now = Date.now()): Promise<BatchVerdict> {
  const m = new Multi(tx.paths).fence(tx.fence());
  for (let k = from; k < items.length && m.items < limits.maxItems; k++) {
    const it = items[k]!;
    const t = it.failedBy ? failDependencyOps(tx.paths, dag, it.cur, it.failedBy, now) : releaseOps(tx.paths, dag, it.cur, now);
    if (!m.fits(t.ops, limits.maxBytes)) break;
    m.add(k, t.ops);
  }
  const v = await m.send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed', taken: m.items } : { ...v, taken: m.items };
}
