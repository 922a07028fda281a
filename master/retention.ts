// Retention: finished tasks (done entry + record) are deleted once they are older than the
// retention, shard by shard, in fenced batches, then their dependency nodes (retention-dag.ts). One purge at a time: two would refuse each
// other's batches.
import { Paths } from '../shared/protocol/paths.js';
import { purgeBatch, type BatchVerdict, type Fenced, type Finished } from '../shared/protocol/transitions.js';
import { DeposedError, notDeposed, type LeaderContext } from './leader-context.js';
import { purgeDagNodes } from './retention-dag.js';

/** Done entries + records removed per multi. */
const PURGE_BATCH = 50;

export class Retention {
  private timer?: NodeJS.Timeout;
  private purging?: Promise<number>;

  constructor(
    private readonly ctx: LeaderContext,
    private readonly onError: (err: unknown) => void,
  ) {}

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
    for (const shard of paths.shardNames) {
      if (this.ctx.stopped) break;
      const { children } = await session.retrying(() => session.getChildren(paths.doneShard(shard)));
      const old: Finished[] = [];
      for (const n of children) {
        const p = Paths.parseDoneEntry(n);
        if (p && p.finishedAt <= cutoff) old.push({ taskId: p.taskId, doneEntry: paths.doneEntryAt(shard, n) });
      }
      const gone: string[] = [];
      for (let i = 0; i < old.length; i += PURGE_BATCH) {
        const v = await this.purge(old, i, PURGE_BATCH);
        if (v.kind === 'committed') {
          purged += v.taken;
          gone.push(...old.slice(i, i + v.taken).map((t) => t.taskId));
          continue;
        }
        // One of them went meanwhile: fall back to one at a time.
        for (const t of old.slice(i, i + PURGE_BATCH)) {
          const one = await this.purge([t], 0, 1);
          if (one.kind === 'committed') {
            purged++;
            gone.push(t.taskId);
          } else if (!(one.kind === 'moved' && one.code === 'NO_NODE')) log.warn({ taskId: t.taskId, err: one.error.message }, 'could not purge finished task');
        }
      }
      // Their dependency nodes (dag/parents, reverse edges), if any: same shard (retention-dag.ts).
      if (gone.length > 0 && !this.ctx.stopped) await purgeDagNodes(this.ctx, shard, gone);
    }
    if (purged) log.info({ purged, retentionMs: this.ctx.opts.retentionMs }, 'finished tasks purged');
    return purged;
  }

  /** One purge multi; deposed is thrown, any other error comes back as `failed` (the caller goes one at a time). */
  private async purge(tasks: Finished[], from: number, max: number): Promise<Exclude<BatchVerdict, Fenced> | { kind: 'failed'; error: Error }> {
    try {
      return notDeposed(this.ctx, await purgeBatch(this.ctx, tasks, from, max));
    } catch (err) {
      if (err instanceof DeposedError) throw err;
      return { kind: 'failed', error: err as Error };
    }
  }
}
