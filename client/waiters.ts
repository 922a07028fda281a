// Waiting for tasks to finish, for every wait() of one client at once. However many waits
// run, they cost one pair of session listeners ('state', 'session'), one data watch per task
// path (waits on the same id share it and its reads) and one abort listener per signal:
// a listener per wait made Promise.all of 200 waits trip MaxListenersExceededWarning.
import type { Paths } from '../shared/protocol/paths.js';
import { MalformedRecordError, decodeRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import { isTerminal, type TaskState } from '../shared/protocol/task-state.js';
import { ConnectionLossError, NoNodeError, ZkError } from '../shared/zk/errors.js';
import type { SessionState, ZkSession } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';

export class TaskNotFoundError extends Error {
  override name = 'TaskNotFoundError';
  constructor(readonly taskId: string) {
    super(`task ${taskId} not found`);
  }
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
  constructor(
    readonly taskId: string,
    readonly state: TaskState,
  ) {
    super(`task ${taskId} is still ${state}`);
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Waiter {
  entry: Entry;
  deadline: number;
  signal?: AbortSignal;
  resolve(rec: TaskRecord): void;
  reject(err: unknown): void;
  settled: boolean;
  /** Wakes a re-read at the deadline (the last read decides between outcome and timeout). */
  timer?: NodeJS.Timeout;
  /** Armed while the session is lost: fails the wait if ZooKeeper stays away. */
  lostTimer?: NodeJS.Timeout;
}

/** Every wait on one task id: one read at a time, one watch. */
interface Entry {
  id: string;
  waiters: Set<Waiter>;
  reading: boolean;
  /** Something happened (watch, new wait, deadline, session) during a read: read again. */
  again: boolean;
}

type ReadOutcome =
  | { kind: 'record'; rec: TaskRecord | null }
  | { kind: 'missing' }
  | { kind: 'lost' }
  | { kind: 'error'; err: unknown };

// setTimeout fires at once past 2^31-1 ms: wake up then and arm again.
const MAX_TIMER_MS = 2_147_483_647;

export class Waiters {
  private readonly entries = new Map<string, Entry>();
  private readonly bySignal = new Map<AbortSignal, { waiters: Set<Waiter>; onAbort: () => void }>();
  private readonly watchers: StableWatchers;
  private listening = false;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly reconnectTimeoutMs: number,
  ) {
    this.watchers = new StableWatchers(session);
  }

  /** How many task paths are being waited on (each with one watch). */
  get watchedIds(): number {
    return this.entries.size;
  }

  /** Resolves with the record once it is terminal (watch-driven, no polling). */
  wait(id: string, opts: WaitOptions = {}): Promise<TaskRecord> {
    if (opts.timeoutMs !== undefined && !(opts.timeoutMs >= 0)) {
      return Promise.reject(new TypeError(`wait: timeoutMs must be a number >= 0, got ${opts.timeoutMs}`));
    }
    try {
      opts.signal?.throwIfAborted();
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<TaskRecord>((resolve, reject) => {
      let entry = this.entries.get(id);
      if (!entry) {
        entry = { id, waiters: new Set(), reading: false, again: false };
        this.entries.set(id, entry);
      }
      const w: Waiter = {
        entry,
        deadline: opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity,
        signal: opts.signal,
        resolve,
        reject,
        settled: false,
      };
      entry.waiters.add(w);
      if (w.signal) this.addToSignal(w, w.signal);
      this.listen();
      // Every wait begins with a read of its own (shared with the waits that join meanwhile).
      void this.pump(entry);
    });
  }

  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    this.session.on('state', this.onState);
    this.session.on('session', this.onSession);
  }

  private unlisten(): void {
    if (!this.listening || this.entries.size > 0) return;
    this.listening = false;
    this.session.off('state', this.onState);
    this.session.off('session', this.onSession);
  }

  private readonly onState = (st: SessionState): void => {
    if (st === 'connected') {
      // ZooKeeper is back (a 'session' event follows when the session is new): no wait
      // fails for its absence any more.
      for (const e of this.entries.values()) for (const w of e.waiters) this.clearLost(w);
    } else if (st === 'expired' || st === 'closed') {
      // Re-read: that fails at once, arming the reconnect bound (expired) or ending the
      // waits (closed).
      this.pumpAll();
    }
  };

  /** A new session: every watch died with the old one; read and watch again. */
  private readonly onSession = (): void => this.pumpAll();

  private pumpAll(): void {
    for (const e of [...this.entries.values()]) void this.pump(e);
  }

  private addToSignal(w: Waiter, signal: AbortSignal): void {
    let s = this.bySignal.get(signal);
    if (!s) {
      const waiters = new Set<Waiter>();
      const onAbort = () => {
        for (const x of [...waiters]) this.settle(x, () => x.reject(signal.reason ?? new Error('aborted')));
      };
      s = { waiters, onAbort };
      this.bySignal.set(signal, s);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    s.waiters.add(w);
  }

  /** Reads the task (again while asked to) and settles the waits that read covers. */
  private async pump(e: Entry): Promise<void> {
    if (e.reading) {
      e.again = true;
      return;
    }
    e.reading = true;
    try {
      do {
        e.again = false;
        // Only the waits present when the read is sent: a wait that joins later (after its
        // caller's own write, say) must not be answered by an older read.
        const covered = [...e.waiters];
        if (covered.length === 0) break;
        this.apply(e, covered, await this.read(e.id));
      } while (e.again);
    } finally {
      e.reading = false;
    }
  }

  private async read(id: string): Promise<ReadOutcome> {
    const g = this.session.generation;
    // One watcher function per path and session: the library arms one watch for it, however
    // many waits and re-reads there are.
    const watcher = this.watchers.get(id, () => () => {
      if (this.session.generation !== g) return; // a watch of a session that is gone
      this.watchers.delete(id); // fired: the next read arms it again
      const e = this.entries.get(id);
      if (e) void this.pump(e);
    });
    try {
      const { data } = await this.session.retrying(() => this.session.getData(this.paths.task(id), watcher));
      try {
        return { kind: 'record', rec: decodeRecord(data, id) };
      } catch (err) {
        // A malformed record is not an outcome: the leader marks it failed, and we see that.
        if (err instanceof MalformedRecordError) return { kind: 'record', rec: null };
        return { kind: 'error', err };
      }
    } catch (err) {
      if (err instanceof NoNodeError) return { kind: 'missing' };
      if (err instanceof ZkError && err.code === 'SESSION_EXPIRED') return { kind: 'lost' };
      return { kind: 'error', err };
    }
  }

  private apply(e: Entry, covered: Waiter[], r: ReadOutcome): void {
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
            this.settle(w, () => w.reject(new WaitTimeoutError(e.id, state)));
          } else this.armTimer(w);
          break;
        case 'missing':
          this.settle(w, () => w.reject(new TaskNotFoundError(e.id)));
          break;
        case 'error':
          this.settle(w, () => w.reject(r.err));
          break;
        case 'lost':
          if (w.deadline <= now) {
            this.settle(w, () => w.reject(new ConnectionLossError('CONNECTION_LOSS', `task ${e.id}: ZooKeeper session lost and not back by the wait's deadline`)));
          } else {
            this.armLost(w);
            this.armTimer(w);
          }
          break;
      }
    }
    // Lost, but a new session opened meanwhile (its 'session' event may have come during
    // the read): read again now rather than wait for an event that has passed.
    if (r.kind === 'lost' && this.session.state === 'connected') e.again = true;
  }

  private armTimer(w: Waiter): void {
    if (w.timer || w.deadline === Infinity) return;
    w.timer = setTimeout(
      () => {
        w.timer = undefined;
        if (w.deadline > Date.now()) this.armTimer(w);
        else void this.pump(w.entry);
      },
      Math.min(Math.max(0, w.deadline - Date.now()), MAX_TIMER_MS),
    );
  }

  /** Once its session is lost, a wait waits reconnectTimeoutMs for ZooKeeper to come back. */
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

  /** Takes a wait out of every index (its entry, its signal, the session's listeners), then answers it. */
  private settle(w: Waiter, answer: () => void): void {
    if (w.settled) return;
    w.settled = true;
    if (w.timer) clearTimeout(w.timer);
    this.clearLost(w);
    const e = w.entry;
    e.waiters.delete(w);
    if (e.waiters.size === 0 && this.entries.get(e.id) === e) this.entries.delete(e.id);
    if (w.signal) {
      const s = this.bySignal.get(w.signal);
      if (s) {
        s.waiters.delete(w);
        if (s.waiters.size === 0) {
          w.signal.removeEventListener('abort', s.onAbort);
          this.bySignal.delete(w.signal);
        }
      }
    }
    this.unlisten();
    answer();
  }
}
