// The writes of the dependency releaser (dag-release.ts): the children it decided, read again
// for the version to check, then queued or failed in fenced multis of ≤ 100 (releaseBatch),
// 100 at a time (read 100, write them, next): ≤ 100 full records held, not a pass's 1 000.
import type { Logger } from '../shared/log.js';
import type { DagPaths } from '../shared/protocol/dag-paths.js';
import { releaseBatch, type ReleaseItem } from '../shared/protocol/dag-release-transitions.js';
import type { Decision } from './dag-index.js';
import { readRecords } from './dag-reads.js';
import { DecayingSizes } from './dag-sizes.js';
import { notDeposed, type LeaderContext } from './leader-context.js';

/** A child refused (moved) this many times in a row is dropped with an error line (the next rebuild tries again). */
const MAX_MOVES = 5;
/** Children read and written at a time (one release multi's worth): the full records held at once. */
const GROUP = 100;

export interface WriteStats {
  released: number;
  failed: number;
}

export class DagWriter {
  private readonly decided = new Map<string, Decision>();
  private readonly moves = new Map<string, number>();
  /** The children's records' sizes (not the parents': results make those larger). */
  private readonly sizes = new DecayingSizes();

  constructor(
    private readonly ctx: LeaderContext,
    private readonly dag: DagPaths,
    private readonly log: Logger,
    private readonly stats: WriteStats,
  ) {}

  get size(): number {
    return this.decided.size;
  }
  has(id: string): boolean {
    return this.decided.has(id);
  }
  set(id: string, d: Decision): void {
    this.decided.set(id, d);
  }
  /** Its waiting entry is gone (released, cancelled) or made anew (resubmitted): nothing of ours is left to write. */
  delete(id: string): void {
    this.settle(id);
  }
  clear(): void {
    this.decided.clear();
    this.moves.clear();
  }

  /**
   * Writes up to `max` decisions, GROUP at a time: their records read (the version to check),
   * those still waiting sent in fenced multis of ≤ 100, then the next group (so at most GROUP
   * full records are held, not `max`). `moved`: the pass ends, the rest is read again in the
   * next; `unknown`: thrown (read back after a pause); `fenced`: DeposedError.
   */
  async write(max: number, alive: () => boolean): Promise<void> {
    const ids = take(this.decided.keys(), max);
    if (ids.length === 0) return;
    const t0 = Date.now();
    const before = this.stats.released + this.stats.failed;
    for (let from = 0; from < ids.length && alive(); from += GROUP) {
      if (!(await this.writeGroup(ids.slice(from, from + GROUP), alive))) break;
    }
    this.log.debug({ written: this.stats.released + this.stats.failed - before, decided: ids.length, ms: Date.now() - t0 }, 'dependent tasks released or failed');
  }

  /** One group read and written; false when a write was refused (moved): the pass ends. */
  private async writeGroup(ids: readonly string[], alive: () => boolean): Promise<boolean> {
    const reads = await readRecords(this.ctx.session, this.ctx.paths, this.sizes, ids, (r) => r);
    if (!alive()) return false;
    const items: Array<ReleaseItem & { id: string }> = [];
    for (const id of ids) {
      const r = reads.get(id);
      const d = this.decided.get(id);
      if (!d) continue;
      if (r?.kind === 'error') {
        this.refused(id, { err: r.message }); // read again in the next pass, a few times at most
        continue;
      }
      // Gone, cancelled, or released already (by us, before an unknown verdict; or a former leader): nothing to write.
      if (r?.kind !== 'record' || r.cur.record.state !== 'waiting') {
        this.settle(id);
        continue;
      }
      items.push({ id, cur: r.cur, ...(d.kind === 'fail' ? { failedBy: d.parent } : {}) });
    }
    reads.clear();
    for (let from = 0; from < items.length && alive(); ) {
      const v = notDeposed(this.ctx, await releaseBatch(this.ctx, this.dag, items, from));
      if (v.kind === 'unknown') throw v.error;
      if (v.kind === 'moved') {
        this.refused(items[v.item]!.id, { part: v.part, code: v.code });
        return false; // the rest are read again in the next pass
      }
      let failed = 0;
      for (let k = from; k < from + v.taken; k++) {
        const it = items[k]!;
        if (it.failedBy) failed++;
        this.settle(it.id);
      }
      this.counted(v.taken - failed, failed);
      from += v.taken;
    }
    return true;
  }

  /** The children of one committed release multi, in the stats and the registry's counter. */
  private counted(queued: number, failed: number): void {
    this.stats.released += queued;
    this.stats.failed += failed;
    const m = this.ctx.metrics?.workflow;
    if (queued > 0) m?.released('queued', queued);
    if (failed > 0) m?.released('dependency-failed', failed);
  }

  /** A write or read of `id` refused: after MAX_MOVES in a row it is dropped with an error line. */
  private refused(id: string, why: Record<string, unknown>): void {
    const n = (this.moves.get(id) ?? 0) + 1;
    this.moves.set(id, n);
    if (n < MAX_MOVES) return;
    this.log.error({ taskId: id, ...why }, 'dependent task refused again and again; left for the next rebuild');
    this.settle(id);
  }

  private settle(id: string): void {
    this.decided.delete(id);
    this.moves.delete(id);
  }
}

/** The first `n` of `from` (taken out of it when it is a Set). */
export function take<T>(from: Set<T> | Iterable<T>, n: number): T[] {
  const out: T[] = [];
  for (const x of from) {
    if (out.length >= n) break;
    out.push(x);
  }
  if (from instanceof Set) for (const x of out) from.delete(x);
  return out;
}
