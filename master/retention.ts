// Retention: finished tasks (done entry + record) are deleted once they are older than the
// retention, shard by shard, in fenced batches. One purge at a time: two would refuse each
// other's batches.
import { Paths } from '../shared/protocol/paths.js';
import { purgeOps } from '../shared/protocol/task-ops.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { Op } from '../shared/zk/session.js';
import { DeposedError, type LeaderContext } from './leader-context.js';

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
      const old = children.map((n) => ({ n, p: Paths.parseDoneEntry(n) })).filter((x) => x.p && x.p.finishedAt <= cutoff);
      for (let i = 0; i < old.length; i += PURGE_BATCH) {
        const ops: Op[] = [this.ctx.fence()];
        for (const { n, p } of old.slice(i, i + PURGE_BATCH)) {
          ops.push(...purgeOps(paths, p!.taskId, `${paths.doneShard(shard)}/${n}`, -1, this.ctx.fence()).slice(1));
        }
        try {
          await this.ctx.fenced(ops);
          purged += (ops.length - 1) / 2;
        } catch (err) {
          if (err instanceof DeposedError) throw err;
          // One of them went meanwhile: fall back to one at a time.
          for (const { n, p } of old.slice(i, i + PURGE_BATCH)) {
            try {
              await this.ctx.fenced(purgeOps(paths, p!.taskId, `${paths.doneShard(shard)}/${n}`, -1, this.ctx.fence()));
              purged++;
            } catch (e) {
              if (e instanceof DeposedError) throw e;
              if (!(e instanceof NoNodeError)) log.warn({ taskId: p!.taskId, err: (e as Error).message }, 'could not purge finished task');
            }
          }
        }
      }
    }
    if (purged) log.info({ purged, retentionMs: this.ctx.opts.retentionMs }, 'finished tasks purged');
    return purged;
  }
}
