// Waiting for tasks to finish, for every wait() of one client at once. However many waits
// run, they cost one pair of session listeners ('state', 'session'), one data watch per task
// path (waits on the same id share it and its reads) and one abort listener per signal:
// a listener per wait made Promise.all of 200 waits trip MaxListenersExceededWarning.
//
// ZooKeeper away is not an answer. A read that fails for want of ZooKeeper (connection loss,
// a request timeout, the session lost) leaves its waits waiting: each fails only when
// ZooKeeper stays away for reconnectTimeoutMs from then (or at its own deadline), and the
// task is read again once ZooKeeper is back ('connected': the same session; 'session': a new
// one). close() ends every wait with SessionClosedError and takes the listeners and watches
// off the session, which may be shared and live on.
import type { Paths } from '../shared/protocol/paths.js';
import { MalformedRecordError, decodeRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import { isTerminal } from '../shared/protocol/task-state.js';
import { ConnectionLossError, NoNodeError, SessionClosedError, ZkError } from '../shared/zk/errors.js';
import type { SessionState, ZkSession } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import { SignalIndex } from './signal-index.js';
import { TaskNotFoundError, WaitTimeoutError, type WaitOptions } from './wait-errors.js';

export { TaskNotFoundError, WaitTimeoutError, type WaitOptions } from './wait-errors.js';

interface Waiter {
  entry: Entry;
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

/** Every wait on one task id: one read at a time, one watch. */
interface Entry {
  id: string;
  waiters: Set<Waiter>;
  reading: boolean;
  /** Something happened (watch, new wait, deadline, session) during a read: read again. */
  again: boolean;
  /** The last read failed for want of ZooKeeper: read again once it is back. */
  stalled: boolean;
  /** A read again soon: it failed for want of ZooKeeper while the session said connected. */
  retryTimer?: NodeJS.Timeout;
}

type ReadOutcome =
  | { kind: 'record'; rec: TaskRecord | null }
  | { kind: 'missing' }
  /** ZooKeeper is away: the connection is down or silent (the session may live), or the session is lost. */
  | { kind: 'away'; what: 'connection' | 'session' }
  | { kind: 'error'; err: unknown };

// setTimeout fires at once past 2^31-1 ms: wake up then and arm again.
const MAX_TIMER_MS = 2_147_483_647;
/** Pause before reading again after a failed read while the session says connected. */
const RETRY_MS = 200;

const closedError = () => new SessionClosedError('SESSION_CLOSED', 'client closed while waiting');

export class Waiters {
  private readonly entries = new Map<string, Entry>();
  private readonly signals = new SignalIndex<Waiter>((w, reason) => this.settle(w, () => w.reject(reason)));
  private readonly watchers: StableWatchers;
  private listening = false;
  private closed = false;

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
      let entry = this.entries.get(id);
      if (!entry) {
        entry = { id, waiters: new Set(), reading: false, again: false, stalled: false };
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
      if (w.signal) this.signals.add(w.signal, w);
      this.listen();
      // Every wait begins with a read of its own (shared with the waits that join meanwhile).
      void this.pump(entry);
    });
  }

  /**
   * Ends every wait with SessionClosedError, clears their timers, and takes this client's
   * listeners and watches off the session; later waits are refused the same way.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of [...this.entries.values()]) for (const w of [...e.waiters]) this.settle(w, () => w.reject(closedError()));
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
      // ZooKeeper is back: no wait fails for its absence any more, and what it kept from
      // being read is read now (a 'session' event follows when the session is new).
      for (const e of [...this.entries.values()]) {
        for (const w of e.waiters) this.clearLost(w);
        if (e.stalled) void this.pump(e);
      }
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

  /** Reads the task (again while asked to) and settles the waits that read covers. */
  private async pump(e: Entry): Promise<void> {
    if (e.reading) {
      e.again = true;
      return;
    }
    if (e.retryTimer) clearTimeout(e.retryTimer);
    e.retryTimer = undefined;
    e.reading = true;
    try {
      do {
        e.again = false;
        // Only the waits present when the read is sent: a wait that joins later (after its
        // caller's own write, say) must not be answered by an older read.
        const covered = [...e.waiters];
        if (covered.length === 0 || this.closed) break;
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
      // Nobody waits on it any more (settled or closed meanwhile): the library armed the
      // watch with the reply; take it off again.
      if (!this.entries.has(id)) this.forgetWatch(id);
      try {
        return { kind: 'record', rec: decodeRecord(data, id) };
      } catch (err) {
        // A malformed record is not an outcome: the leader marks it failed, and we see that.
        if (err instanceof MalformedRecordError) return { kind: 'record', rec: null };
        return { kind: 'error', err };
      }
    } catch (err) {
      if (err instanceof NoNodeError) return { kind: 'missing' };
      if (err instanceof ZkError && err.code === 'SESSION_EXPIRED') return { kind: 'away', what: 'session' };
      // Connection loss, or no reply within the request deadline (a RequestTimeoutError is a
      // ConnectionLossError): the connection is down or silent and the session may live.
      if (err instanceof ConnectionLossError) return { kind: 'away', what: 'connection' };
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
        case 'away':
          if (w.deadline <= now) {
            const what = r.what === 'session' ? 'session lost' : 'connection lost';
            this.settle(w, () => w.reject(new ConnectionLossError('CONNECTION_LOSS', `task ${e.id}: ZooKeeper ${what} and not back by the wait's deadline`)));
          } else {
            this.armLost(w);
            this.armTimer(w);
          }
          break;
      }
    }
    e.stalled = r.kind === 'away';
    if (!e.stalled || this.session.state !== 'connected') return;
    // Back already (its event may have come during the read): read again rather than wait
    // for an event that has passed; at once after a new session, shortly after a connection loss.
    if (r.kind === 'away' && r.what === 'session') e.again = true;
    else if (!e.retryTimer) e.retryTimer = setTimeout(() => void this.pump(e), RETRY_MS);
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

  /** Takes `id`'s watcher out of the session's registry (nobody waits on it now). */
  private forgetWatch(id: string): void {
    const watcher = this.watchers.take(id);
    if (watcher) this.session.forgetDataWatch(this.paths.task(id), watcher);
  }

  /** Takes a wait out of every index (its entry and watch, its signal, the session's listeners), then answers it. */
  private settle(w: Waiter, answer: () => void): void {
    if (w.settled) return;
    w.settled = true;
    if (w.timer) clearTimeout(w.timer);
    this.clearLost(w);
    const e = w.entry;
    e.waiters.delete(w);
    if (e.waiters.size === 0 && this.entries.get(e.id) === e) {
      this.entries.delete(e.id);
      if (e.retryTimer) clearTimeout(e.retryTimer);
      e.retryTimer = undefined;
      this.forgetWatch(e.id);
    }
    if (w.signal) this.signals.remove(w.signal, w);
    this.unlisten();
    answer();
  }
}
