// Retention: finished tasks (done entry + record) are deleted once they are older than the
// retention, shard by shard, in groups: first their dependency nodes (retention-dag.ts: kept,
// with the task, while a child still waits for it), then the records and done entries of those
// whose nodes are gone, in fenced batches (each record guarded: a child submitted meanwhile keeps it). A shard whose reads fail is left for the next pass
// (the others still go). One purge at a time: two would refuse each other's batches.
import { Paths } from '../shared/protocol/paths.js';
import { purgeBatch, type BatchVerdict, type Fenced, type Finished } from '../shared/protocol/transitions.js';
import { DeposedError, notDeposed, type LeaderContext } from './leader-context.js';
import { DagRetention } from './retention-dag.js';

/** Done entries + records removed per multi. */
const PURGE_BATCH = 50;
/** Old tasks whose dependency nodes are looked at (and removed) before their records go. */
const GROUP = 500;

export class Retention {
  private timer?: NodeJS.Timeout;
  private purging?: Promise<number>;
  private readonly dag: DagRetention;

  constructor(
    private readonly ctx: LeaderContext,
    private readonly onError: (err: unknown) => void,
  ) {
    this.dag = new DagRetention(ctx);
  }

  start(): void {
    this.timer = setInterval(() => {
      if (this.purging) return;
      this.purging = this.purgeFinished()
        .catch((e) => {
          this.onError(e);
          return 0;
        })
        .finally(() => (this.purging = undefined));
    }, this.ctx.opts.retentionIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Deletes finished tasks older than the retention; returns how many. */
  async purgeFinished(now = Date.now()): Promise<number> {
    const { session, paths, log } = this.ctx;
    if (this.ctx.stopped || session.state !== 'connected') return 0;
    let purged = 0;
    const cutoff = now - this.ctx.opts.retentionMs;
    this.dag.startPass();
    for (const shard of paths.shardNames) {
      if (this.ctx.stopped) break;
      try {
        purged += await this.purgeShard(shard, cutoff);
      } catch (err) {
        // Deposed, stopped or disconnected: the pass ends (the next one, or the next leader, goes on).
        if (err instanceof DeposedError || this.ctx.stopped || session.state !== 'connected') throw err;
        log.warn({ shard, err: (err as Error).message }, 'retention of a shard failed (tried again next pass)');
      }
    }
    if (purged) log.info({ purged, retentionMs: this.ctx.opts.retentionMs }, 'finished tasks purged');
    return purged;
  }

  /** Purges the shard's finished tasks older than `cutoff`: dependency nodes first, then records; returns how many. */
  private async purgeShard(shard: string, cutoff: number): Promise<number> {
    const { session, paths, log } = this.ctx;
    const { children } = await session.retrying(() => session.getChildren(paths.doneShard(shard)));
    const all: Finished[] = [];
    for (const n of children) {
      const p = Paths.parseDoneEntry(n);
      if (p && p.finishedAt <= cutoff) all.push({ taskId: p.taskId, doneEntry: paths.doneEntryAt(shard, n) });
    }
    let purged = 0;
    for (let g = 0; g < all.length && !this.ctx.stopped; g += GROUP) {
      const old = await this.dag.clear(all.slice(g, g + GROUP));
      for (let i = 0; i < old.length; i += PURGE_BATCH) {
        const v = await this.purge(old, i, PURGE_BATCH);
        if (v.kind === 'committed') {
          purged += v.taken;
          continue;
        }
        // One of them went meanwhile: fall back to one at a time.
        for (const t of old.slice(i, i + PURGE_BATCH)) {
          const one = await this.purge([t], 0, 1);
          if (one.kind === 'committed') purged++;
          else if (!(one.kind === 'moved' && one.code === 'NO_NODE')) log.warn({ taskId: t.taskId, err: one.error.message }, 'could not purge finished task');
        }
      }
    }
    return purged;
  }

  /** One purge multi; deposed is thrown, any other error comes back as `failed` (the caller goes one at a time). */
  private async purge(tasks: Finished[], from: number, max: number): Promise<Exclude<BatchVerdict, Fenced> | { kind: 'failed'; error: Error }> {
    try {
      // Each record purge guarded (purgeGuard): refused if a child was submitted for it since its reverse edges went.
      const v = notDeposed(this.ctx, await purgeBatch(this.ctx, tasks, from, max, (id) => this.dag.purgeGuard(id)));
      return v.kind === 'committed' ? { kind: 'committed', taken: v.taken } : v;
    } catch (err) {
      if (err instanceof DeposedError) throw err;
      return { kind: 'failed', error: err as Error };
    }
  }
}
