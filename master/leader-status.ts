// The leader's own account of what the queue waits for, for `status`: the leader has read
// and classified the queued records already, so it knows, per class of queued tasks no live
// worker can take, how many there are and why. It publishes that to one small znode,
// <root>/leader-status: at most MAX_CLASSES classes (the biggest), plus how many classes and
// tasks there are in all and how many entries it has not classified yet. Written fenced (a
// deposed leader's write is refused), at most once per interval and only when it changed.
// `status` uses it when its epoch is the current leader's, and falls back to a sample of
// records otherwise. A new leader publishes once its first listing of the queue is done.
// With limits set (control/limits) it also lists each limit (the first LEADER_STATUS_MAX_LIMITS,
// in control/limits' order: ≤ ~30 KB with 200-character labels) with its tasks assigned or
// running as its last round counted them (exact: from its picture of assign/), and its bucket's
// tokens (to 1/100: the next leader seeds its buckets from them, master/limits-round.ts; they
// change, and so are rewritten, only while a bucket is not full). Nothing is published before
// the previous leader's status has been read (its tokens would be overwritten unread).
import { Multi } from '../shared/protocol/transitions.js';
import type { LeaderContext } from './leader-context.js';
import type { LimitReport } from './limits.js';
import type { QueueIndex, WaitingClassCount } from './queue-index.js';

/** Classes listed at most (the biggest): keeps the znode a few KB. */
export const LEADER_STATUS_MAX_CLASSES = 50;
export const LEADER_STATUS_FORMAT = 1;
/** Limits listed at most (status shows the others' counts as unknown). */
export const LEADER_STATUS_MAX_LIMITS = 100;

export interface LeaderStatus {
  format: number;
  /** The epoch of the leader that wrote it: only the current leader's is current. */
  epoch: number;
  /** When it was written (the leader's clock). */
  at: number;
  /** Queue entries the leader knows of. */
  queued: number;
  /** Of those, entries whose record it has not read yet (their class is unknown). */
  unclassified: number;
  /** Classes no live worker can take, biggest first, at most LEADER_STATUS_MAX_CLASSES. */
  waiting: WaitingClassCount[];
  /** How many such classes, and tasks in them, there are in all (also beyond the list). */
  waitingClasses: number;
  waitingTasks: number;
  /** The first LEADER_STATUS_MAX_LIMITS limits with their running counts (absent: no limits set). */
  limits?: LimitReport[];
}

export class LeaderStatusPublisher {
  private last = '';
  private lastAt = 0;
  private timer?: NodeJS.Timeout;
  private writing = false;
  /** Asked for while a write was in flight: go again after it. */
  private again = false;

  constructor(
    private readonly ctx: LeaderContext,
    private readonly queue: QueueIndex,
    /** False until the previous leader's status has been read (limits-round.ts PriorBuckets): nothing published before. */
    private readonly mayPublish: () => boolean = () => true,
    private readonly intervalMs = 1000,
  ) {}

  /** Something may have changed: publish within the interval (coalesced). */
  schedule(delayMs = Math.max(0, this.lastAt + this.intervalMs - Date.now())): void {
    if (this.timer || this.ctx.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.publish();
    }, delayMs);
    this.timer.unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async publish(): Promise<void> {
    const { ctx } = this;
    if (ctx.stopped) return;
    if (this.writing) {
      this.again = true;
      return;
    }
    // Until the queue has been listed once its counts cover part of it: status samples records meanwhile.
    // (Not now: look again in an interval, not at once in a loop of timers.)
    if (ctx.session.state !== 'connected' || !this.queue.complete || !this.mayPublish()) return this.schedule(this.intervalMs);
    const w = this.queue.waiting(LEADER_STATUS_MAX_CLASSES);
    const body: Omit<LeaderStatus, 'at'> = {
      format: LEADER_STATUS_FORMAT,
      epoch: ctx.handle.epoch,
      queued: this.queue.size,
      unclassified: this.queue.unclassified,
      waiting: w.classes,
      waitingClasses: w.total,
      waitingTasks: w.tasks,
      ...(this.queue.gate.limits.active ? { limits: this.queue.gate.limits.report(LEADER_STATUS_MAX_LIMITS) } : {}),
    };
    const json = JSON.stringify(body);
    if (json === this.last) return;
    this.writing = true;
    this.lastAt = Date.now();
    try {
      const data = Buffer.from(JSON.stringify({ ...body, at: this.lastAt }));
      const path = ctx.paths.leaderStatus;
      let v = await new Multi(ctx.paths).fence(ctx.fence()).add(0, [{ op: 'setData', path, data }]).send(ctx.session);
      if (v.kind === 'moved' && v.code === 'NO_NODE') v = await new Multi(ctx.paths).fence(ctx.fence()).add(0, [{ op: 'create', path, data }]).send(ctx.session);
      if (v.kind === 'committed') this.last = json;
      // fenced: deposed, the rounds find out; moved (created meanwhile) or unknown: try again.
      else if (v.kind !== 'fenced') this.schedule();
    } catch (err) {
      ctx.log.debug({ err: (err as Error).message }, 'could not publish the leader status');
      this.schedule();
    } finally {
      this.writing = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }
}
