// Waiting for tasks to finish, for every wait() of one client at once. However many waits
// run, they cost one pair of session listeners ('state', 'session'), one data watch per task
// path (waits on the same id share it and its reads; past a thousand ids, one watch on the
// finished index for all, and reads in multiReads) and one abort listener per signal:
// a listener per wait made Promise.all of 200 waits trip MaxListenersExceededWarning.
// This file keeps the per-wait bookkeeping (deadlines, signals, the reconnectTimeoutMs rule);
// the per-path reads, watches and session listeners are in task-watches.ts.
//
// ZooKeeper away is not an answer. A read that fails for want of ZooKeeper (connection loss,
// a request timeout, the session lost) leaves its waits waiting: each fails only when
// ZooKeeper stays away for reconnectTimeoutMs from then (or at its own deadline), and the
// task is read again once ZooKeeper is back ('connected': the same session; 'session': a new
// one). close() ends every wait with SessionClosedError and takes the listeners and watches
// off the session, which may be shared and live on.
import type { Paths } from '../shared/protocol/paths.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { isTerminal } from '../shared/protocol/task-state.js';
import { ConnectionLossError, SessionClosedError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { SignalIndex } from './signal-index.js';
import { TaskWatches, type Entry, type ReadOutcome } from './task-watches.js';
import { TaskNotFoundError, WaitTimeoutError, type WaitManyOptions, type WaitOptions } from './wait-errors.js';

export { TaskNotFoundError, WaitTimeoutError, type WaitManyOptions, type WaitOptions } from './wait-errors.js';

/**
 * waitMany for a caller that only wants `onEach` (`drover wait` of a million ids): no record
 * is kept once `onEach` has had it, and the call resolves to how many tasks finished.
 */
export interface WaitEachOptions<R = TaskRecord> extends WaitOptions {
  onEach: (rec: R, index: number) => void;
  keep: false;
}

interface Waiter {
  entry: Entry<Waiter>;
  deadline: number;
  signal?: AbortSignal;
  resolve(rec: TaskRecord): void;
  reject(err: unknown): void;
  settled: boolean;
  /** Wakes a re-read at the deadline (the last read decides between outcome and timeout). */
  timer?: NodeJS.Timeout;
  /** Armed while ZooKeeper is away: fails the wait if it stays away. */
  lostTimer?: NodeJS.Timeout;
}

// setTimeout fires at once past 2^31-1 ms: wake up then and arm again.
const MAX_TIMER_MS = 2_147_483_647;

const closedError = () => new SessionClosedError('SESSION_CLOSED', 'client closed while waiting');

export class Waiters {
  private readonly signals = new SignalIndex<Waiter>((w, reason) => this.settle(w, () => w.reject(reason)));
  private readonly watches: TaskWatches<Waiter>;
  private closed = false;

  constructor(
    private readonly session: ZkSession,
    paths: Paths,
    private readonly reconnectTimeoutMs: number,
    recordWatchLimit?: number,
  ) {
    this.watches = new TaskWatches<Waiter>(
      session,
      paths,
      {
        apply: (id, covered, r) => this.apply(id, covered, r),
        back: (w) => this.clearLost(w),
        closed: () => this.closed,
      },
      recordWatchLimit,
    );
  }

  /** How many task paths are being waited on. */
  get watchedIds(): number {
    return this.watches.size;
  }

  /** 'records': a data watch per task; 'tree': one watch on the finished index for all. */
  get watchMode(): 'records' | 'tree' {
    return this.watches.watchMode;
  }

  /** For tests and diagnostics (TaskWatches.stats). */
  get stats(): TaskWatches<Waiter>['stats'] {
    return this.watches.stats;
  }

  /**
   * Every record once terminal, in the order of `ids` (with `keep: false`: none, only
   * `onEach`, and how many finished). The first failure (a timeout, a missing task, the
   * signal, a throwing onEach) rejects it and ends the other waits it made.
   */
  waitMany(ids: readonly string[], opts: WaitEachOptions): Promise<number>;
  waitMany(ids: readonly string[], opts?: WaitManyOptions): Promise<TaskRecord[]>;
  async waitMany(ids: readonly string[], opts: WaitManyOptions | WaitEachOptions = {}): Promise<TaskRecord[] | number> {
    if ('keep' in opts && opts.keep === false) return this.waitEach(ids, opts);
    const own = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, own.signal]) : own.signal;
    const { onEach, ...one } = opts;
    const waits = ids.map((id, i) => {
      const w = this.wait(id, { ...one, signal });
      return onEach ? w.then((rec) => (onEach(rec, i), rec)) : w;
    });
    try {
      return await Promise.all(waits);
    } finally {
      own.abort(new Error('waitMany: another wait of the same call failed'));
      for (const w of waits) w.catch(() => undefined);
    }
  }

  /**
   * waitMany without keeping records: no array of results (Promise.all would hold every
   * record to the end), each record dropped once onEach returns. Held meanwhile: the waits
   * not yet finished (as any waitMany), and no onEach after the call failed.
   */
  private async waitEach(ids: readonly string[], opts: WaitEachOptions): Promise<number> {
    const own = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, own.signal]) : own.signal;
    const { onEach, keep: _keep, ...one } = opts;
    let left = ids.length;
    let failed = false;
    try {
      await new Promise<void>((resolve, reject) => {
        if (left === 0) return resolve();
        const fail = (err: unknown) => {
          if (failed) return;
          failed = true;
          reject(err);
        };
        ids.forEach((id, i) => {
          this.wait(id, { ...one, signal }).then((rec) => {
            if (failed) return;
            try {
              onEach(rec, i);
            } catch (err) {
              return fail(err);
            }
            if (--left === 0) resolve();
          }, fail);
        });
      });
      return ids.length;
    } finally {
      own.abort(new Error('waitMany: another wait of the same call failed'));
    }
  }

  /** Resolves with the record once it is terminal (watch-driven, no polling). */
  wait(id: string, opts: WaitOptions = {}): Promise<TaskRecord> {
    if (this.closed) return Promise.reject(closedError());
    if (opts.timeoutMs !== undefined && !(opts.timeoutMs >= 0)) {
      return Promise.reject(new TypeError(`wait: timeoutMs must be a number >= 0, got ${opts.timeoutMs}`));
    }
    try {
      opts.signal?.throwIfAborted();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<TaskRecord>((resolve, reject) => {
      const entry = this.watches.entry(id);
      const w: Waiter = {
        entry,
        deadline: opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity,
        signal: opts.signal,
        resolve,
        reject,
        settled: false,
      };
      entry.waiters.add(w);
      if (w.signal) this.signals.add(w.signal, w);
      this.watches.listen();
      // Every wait begins with a read of its own (shared with the waits that join meanwhile).
      void this.watches.pump(entry);
    });
  }

  /**
   * Ends every wait with SessionClosedError, clears their timers, and takes this client's
   * listeners and watches off the session; later waits are refused the same way.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.watches.list()) for (const w of [...e.waiters]) this.settle(w, () => w.reject(closedError()));
  }

  /** Answers the waits a read of task `id` covered, or keeps them waiting. */
  private apply(id: string, covered: Waiter[], r: ReadOutcome): void {
    const now = Date.now();
    for (const w of covered) {
      if (w.settled) continue;
      switch (r.kind) {
        case 'record':
          this.clearLost(w);
          if (r.rec && isTerminal(r.rec.state)) {
            const rec = r.rec;
            this.settle(w, () => w.resolve(rec));
          } else if (w.deadline <= now) {
            const state = r.rec?.state ?? 'queued';
            this.settle(w, () => w.reject(new WaitTimeoutError(id, state)));
          } else this.armTimer(w);
          break;
        case 'missing':
          this.settle(w, () => w.reject(new TaskNotFoundError(id)));
          break;
        case 'error':
          this.settle(w, () => w.reject(r.err));
          break;
        case 'away':
          if (w.deadline <= now) {
            const what = r.what === 'session' ? 'session lost' : 'connection lost';
            this.settle(w, () => w.reject(new ConnectionLossError('CONNECTION_LOSS', `task ${id}: ZooKeeper ${what} and not back by the wait's deadline`)));
          } else {
            this.armLost(w);
            this.armTimer(w);
          }
          break;
      }
    }
  }

  private armTimer(w: Waiter): void {
    if (w.timer || w.deadline === Infinity) return;
    w.timer = setTimeout(
      () => {
        w.timer = undefined;
        if (w.deadline > Date.now()) this.armTimer(w);
        else void this.watches.pump(w.entry);
      },
      Math.min(Math.max(0, w.deadline - Date.now()), MAX_TIMER_MS),
    );
  }

  /** Once ZooKeeper is away, a wait waits reconnectTimeoutMs for it to come back. */
  private armLost(w: Waiter): void {
    if (w.lostTimer) return;
    const ms = this.reconnectTimeoutMs;
    w.lostTimer = setTimeout(() => {
      w.lostTimer = undefined;
      if (this.session.state === 'connected') return;
      this.settle(w, () => w.reject(new ConnectionLossError('CONNECTION_LOSS', `not connected to ZooKeeper within ${ms} ms`)));
    }, ms);
  }

  private clearLost(w: Waiter): void {
    if (w.lostTimer) clearTimeout(w.lostTimer);
    w.lostTimer = undefined;
  }

  /** Takes a wait out of every index (its entry and watch, its signal, the session's listeners), then answers it. */
  private settle(w: Waiter, answer: () => void): void {
    if (w.settled) return;
    w.settled = true;
    if (w.timer) clearTimeout(w.timer);
    this.clearLost(w);
    this.watches.leave(w.entry, w);
    if (w.signal) this.signals.remove(w.signal, w);
    this.watches.unlisten();
    answer();
  }
}
