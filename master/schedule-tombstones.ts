// The leader's deletion of removed schedules' tombstones (shared/protocol/schedule.ts's header):
// each tombstone read is remembered by name and deleted once TOMBSTONE_TTL_MS old, by one fenced
// multi at the version read, between a pass's steps (no write of the scheduler in flight). A
// client never deletes one. Cost: 1 multi per removed schedule, ≤ SWEEP_MAX a pass.
import { TOMBSTONE_TTL_MS } from '../shared/protocol/schedule.js';
import { deleteTombstone } from '../shared/protocol/schedule-ops.js';
import type { ReadSchedule } from '../shared/protocol/schedule-reads.js';
import type { ZkError } from '../shared/zk/errors.js';
import { notDeposed, type LeaderContext } from './leader-context.js';
import { pooled } from '../shared/util/pool.js';


/** Tombstones deleted at most in one pass. */
const SWEEP_MAX = 100;
/** Deletes in flight at once. */
const SWEEP_CONCURRENCY = 8;

export interface SweepResult {
  /** Names re-added or changed meanwhile (the delete was refused): to re-read. */
  moved: string[];
  /** A delete whose verdict is unknown (connection loss): kept, retried later. */
  unknown: ZkError | null;
  /** More were old enough than one pass deletes. */
  more: boolean;
}

export class Tombstones {
  private readonly byName = new Map<string, { version: number; removedAt: number }>();

  /** Remembers a read's tombstone, or forgets one the read no longer shows. */
  note(name: string, r: ReadSchedule): void {
    if (r !== null && 'removed' in r) this.byName.set(name, { version: r.version, removedAt: r.removedAt });
    else this.byName.delete(name);
  }

  clear(): void {
    this.byName.clear();
  }

  get size(): number {
    return this.byName.size;
  }

  /** When the oldest is due for deletion (Infinity: none). */
  earliest(): number {
    let at = Infinity;
    for (const t of this.byName.values()) at = Math.min(at, t.removedAt + TOMBSTONE_TTL_MS);
    return at;
  }

  /** Deletes those TOMBSTONE_TTL_MS old (a fenced refusal throws DeposedError). */
  async sweep(ctx: LeaderContext, stopped: () => boolean, now = Date.now()): Promise<SweepResult> {
    const old = [...this.byName].filter(([, t]) => t.removedAt + TOMBSTONE_TTL_MS <= now);
    const batch = old.slice(0, SWEEP_MAX);
    const out: SweepResult = { moved: [], unknown: null, more: old.length > batch.length };
    await pooled(
      batch,
      async ([name, t]) => {
        if (stopped()) return;
        const v = notDeposed(ctx, await deleteTombstone(ctx, name, t.version));
        if (v.kind === 'unknown') {
          out.unknown = v.error;
          return;
        }
        // Deleted, or re-added/changed meanwhile (moved): either way its event brings a re-read.
        if (this.byName.get(name) === t) this.byName.delete(name);
        if (v.kind === 'moved') out.moved.push(name);
      },
      SWEEP_CONCURRENCY,
    );
    return out;
  }
}
