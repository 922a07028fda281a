// The per-path half of waiting (waiters.ts keeps the per-wait half): one entry per task id
// being waited on, one read of it at a time and one data watch, whatever number of waits
// share it; one pair of session listeners ('state', 'session') for all entries, on while
// any wait is left. The task is read again when its watch fires, when ZooKeeper is back
// ('connected': the same session; 'session': a new one, whose watches are all new) and
// shortly after a read that failed for want of ZooKeeper while the session said connected.
import type { Paths } from '../shared/protocol/paths.js';
import { MalformedRecordError, decodeRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import { ConnectionLossError, NoNodeError, ZkError } from '../shared/zk/errors.js';
import type { SessionState, ZkSession } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';

export type ReadOutcome =
  | { kind: 'record'; rec: TaskRecord | null }
  | { kind: 'missing' }
  /** ZooKeeper is away: the connection is down or silent (the session may live), or the session is lost. */
  | { kind: 'away'; what: 'connection' | 'session' }
  | { kind: 'error'; err: unknown };

/** Every wait on one task id: one read at a time, one watch. */
export interface Entry<W> {
  id: string;
  waiters: Set<W>;
  reading: boolean;
  /** Something happened (watch, new wait, deadline, session) during a read: read again. */
  again: boolean;
  /** The last read failed for want of ZooKeeper: read again once it is back. */
  stalled: boolean;
  /** A read again soon: it failed for want of ZooKeeper while the session said connected. */
  retryTimer?: NodeJS.Timeout;
}

/** What the per-wait side does with reads and with ZooKeeper coming back. */
export interface WatchHooks<W> {
  /** Answers (or keeps waiting) the waits that were present when the read was sent. */
  apply(id: string, covered: W[], r: ReadOutcome): void;
  /** ZooKeeper is back ('connected'): `w` no longer fails for its absence. */
  back(w: W): void;
  /** The client is closed: no more reads. */
  closed(): boolean;
}

/** Pause before reading again after a failed read while the session says connected. */
const RETRY_MS = 200;

export class TaskWatches<W> {
  private readonly entries = new Map<string, Entry<W>>();
  private readonly watchers: StableWatchers;
  private listening = false;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly hooks: WatchHooks<W>,
  ) {
    this.watchers = new StableWatchers(session);
  }

  /** How many task paths are being waited on (each with one watch). */
  get size(): number {
    return this.entries.size;
  }

  /** The entries now (a copy: settling may take entries out). */
  list(): Entry<W>[] {
    return [...this.entries.values()];
  }

  /** `id`'s entry, made if there is none. */
  entry(id: string): Entry<W> {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { id, waiters: new Set(), reading: false, again: false, stalled: false };
      this.entries.set(id, entry);
    }
    return entry;
  }

  /** Takes `w` out of its entry; the entry and its watch go with its last wait. */
  leave(e: Entry<W>, w: W): void {
    e.waiters.delete(w);
    if (e.waiters.size === 0 && this.entries.get(e.id) === e) {
      this.entries.delete(e.id);
      if (e.retryTimer) clearTimeout(e.retryTimer);
      e.retryTimer = undefined;
      this.forgetWatch(e.id);
    }
  }

  listen(): void {
    if (this.listening) return;
    this.listening = true;
    this.session.on('state', this.onState);
    this.session.on('session', this.onSession);
  }

  /** Takes the session listeners off once nobody waits. */
  unlisten(): void {
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
        for (const w of e.waiters) this.hooks.back(w);
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

  /** Reads the task (again while asked to) and has the waits that read covers answered. */
  async pump(e: Entry<W>): Promise<void> {
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
        if (covered.length === 0 || this.hooks.closed()) break;
        const r = await this.read(e.id);
        this.hooks.apply(e.id, covered, r);
        this.afterRead(e, r);
      } while (e.again);
    } finally {
      e.reading = false;
    }
  }

  private afterRead(e: Entry<W>, r: ReadOutcome): void {
    e.stalled = r.kind === 'away';
    if (!e.stalled || this.session.state !== 'connected') return;
    // Back already (its event may have come during the read): read again rather than wait
    // for an event that has passed; at once after a new session, shortly after a connection loss.
    if (r.kind === 'away' && r.what === 'session') e.again = true;
    else if (!e.retryTimer) e.retryTimer = setTimeout(() => void this.pump(e), RETRY_MS);
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

  /** Takes `id`'s watcher out of the session's registry (nobody waits on it now). */
  private forgetWatch(id: string): void {
    const watcher = this.watchers.take(id);
    if (watcher) this.session.forgetDataWatch(this.paths.task(id), watcher);
  }
}
