// The per-path half of waiting (waiters.ts keeps the per-wait half): one entry per task id
// being waited on, one read of it at a time, whatever number of waits share it; one pair of
// session listeners ('state', 'session') for all entries, on while any wait is left.
//
// Two ways of hearing that a task finished, by how many ids are waited on:
// - records (up to `recordWatchLimit` ids): one data watch per record, armed by its read;
// - tree (more ids): one watch on the finished index (done-watch.ts) for all of them, and
//   records read in multiReads without watches (record-reads.ts). Back to records once the
//   ids left are a tenth of the limit: a tree watch hears every finish of the cluster.
// Reads asked for in one turn of the event loop go out together (a Promise.all of 100,000
// waits is one batch: the mode is chosen before any is read). A task is read again when its
// watch fires, when ZooKeeper is back ('connected': the same session; 'session': a new one,
// whose watches are all new; in tree mode the tree watch's reset says so) and shortly after
// a read that failed for want of ZooKeeper while the session said connected.
import type { Paths } from '../shared/protocol/paths.js';
import type { SessionState, ZkSession } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import { DoneWatch } from './done-watch.js';
import { RecordSizes, readMany, readOne, type ReadOutcome } from './record-reads.js';

export type { ReadOutcome } from './record-reads.js';

/** Every wait on one task id: one read at a time. */
export interface Entry<W> {
  id: string;
  waiters: Set<W>;
  reading: boolean;
  /** Something happened (watch, new wait, deadline, session) during a read: read again. */
  again: boolean;
  /** The last read failed for want of ZooKeeper: read again once it is back. */
  stalled: boolean;
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

/** Above this many ids, one watch on the finished index instead of one per record. */
export const DEFAULT_RECORD_WATCH_LIMIT = 1000;
/** Pause before reading again after a failed read while the session says connected. */
const RETRY_MS = 200;

export class TaskWatches<W> {
  private readonly entries = new Map<string, Entry<W>>();
  private readonly watchers: StableWatchers;
  private readonly sizes = new RecordSizes();
  private readonly done: DoneWatch;
  private mode: 'records' | 'tree' = 'records';
  /** Entries to read at the next flush (one turn of the event loop gathers them). */
  private readonly due = new Set<Entry<W>>();
  private flushing?: NodeJS.Immediate;
  /** Entries to read again shortly (a read failed while the session said connected). */
  private readonly later = new Set<Entry<W>>();
  private laterTimer?: NodeJS.Timeout;
  private listening = false;
  /** Reads sent and not answered yet. */
  private inFlight = 0;
  private resets = 0;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly hooks: WatchHooks<W>,
    private readonly recordWatchLimit = DEFAULT_RECORD_WATCH_LIMIT,
  ) {
    this.watchers = new StableWatchers(session);
    this.done = new DoneWatch(session, paths, {
      finished: (id) => {
        const e = this.entries.get(id);
        if (e) this.pump(e);
      },
      reset: () => {
        this.resets++;
        this.pumpAll();
      },
      unarmed: () => this.pumpAll(),
    });
  }

  /** How many task paths are being waited on. */
  get size(): number {
    return this.entries.size;
  }

  /** 'tree' while one watch on the finished index serves every entry. */
  get watchMode(): 'records' | 'tree' {
    return this.mode;
  }

  /** For tests and diagnostics: the mode, whether the tree watch is in place, its resets so far, reads pending or in flight. */
  get stats(): { mode: 'records' | 'tree'; treeArmed: boolean; resets: number; reading: number } {
    return { mode: this.mode, treeArmed: this.done.armed, resets: this.resets, reading: this.inFlight + this.due.size + this.later.size };
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
    if (e.waiters.size > 0 || this.entries.get(e.id) !== e) return;
    this.entries.delete(e.id);
    this.due.delete(e);
    this.later.delete(e);
    this.sizes.forget(e.id);
    this.forgetWatch(e.id);
    if (this.entries.size === 0) this.leaveTree();
    else if (this.mode === 'tree' && this.entries.size <= this.leaveAt) this.schedule();
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
    if (this.laterTimer) clearTimeout(this.laterTimer);
    this.laterTimer = undefined;
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
  }

  private readonly onState = (st: SessionState): void => {
    if (st === 'connected') {
      // ZooKeeper is back: no wait fails for its absence any more, and what it kept from
      // being read is read now (a 'session' event follows when the session is new). With
      // the tree watch in place, its reset after the reconnect reads every entry.
      const resetFollows = this.mode === 'tree' && this.done.armed;
      for (const e of this.entries.values()) {
        for (const w of e.waiters) this.hooks.back(w);
        if (e.stalled && !resetFollows) this.pump(e);
      }
    } else if (st === 'expired' || st === 'closed') {
      // Re-read: that fails at once, arming the reconnect bound (expired) or ending the
      // waits (closed).
      this.pumpAll();
    }
  };

  /** A new session: every watch died with the old one; read and watch again (the tree watch's reset does it). */
  private readonly onSession = (): void => {
    if (!(this.mode === 'tree' && this.done.armed)) this.pumpAll();
  };

  private pumpAll(): void {
    for (const e of this.entries.values()) this.pump(e);
  }

  /** Has the task read (again, after the read in flight), with the next batch. */
  pump(e: Entry<W>): void {
    if (e.reading) {
      e.again = true;
      return;
    }
    this.later.delete(e);
    this.due.add(e);
    this.schedule();
  }

  private schedule(): void {
    this.flushing ??= setImmediate(() => this.flush());
  }

  private get leaveAt(): number {
    return Math.floor(this.recordWatchLimit / 10);
  }

  private flush(): void {
    this.flushing = undefined;
    if (this.mode === 'records' && this.entries.size > this.recordWatchLimit) {
      this.mode = 'tree';
      // The records' watches are not needed now: out of the registry, so a reconnect does not re-send them.
      for (const id of this.entries.keys()) this.forgetWatch(id);
      this.done.open();
    } else if (this.mode === 'tree' && this.entries.size <= this.leaveAt) {
      // Few left: a watch each again (armed by reading them), then the tree watch can go.
      this.leaveTree();
      for (const e of this.entries.values()) {
        if (e.reading) e.again = true;
        else this.due.add(e);
      }
    }
    const ready = [...this.due].filter((e) => this.entries.get(e.id) === e && !e.reading);
    this.due.clear();
    if (ready.length === 0 || this.hooks.closed()) return;
    // The tree watch's first reset reads every entry once it is armed: reading them before
    // too would read them all twice. Unless arming fails: then they are read (and fail) now.
    if (this.mode === 'tree' && !this.done.armed && !this.done.failing) return;
    if (this.mode === 'records') for (const e of ready) void this.readRecord(e);
    else void this.readBatch(ready);
  }

  private leaveTree(): void {
    this.mode = 'records';
    this.done.close();
  }

  /** Records mode: one read, arming the record's watch. */
  private async readRecord(e: Entry<W>): Promise<void> {
    const covered = this.begin(e);
    const g = this.session.generation;
    // One watcher function per path and session: the library arms one watch for it, however
    // many waits and re-reads there are.
    const watcher = this.watchers.get(e.id, () => () => {
      if (this.session.generation !== g) return; // a watch of a session that is gone
      this.watchers.delete(e.id); // fired: the next read arms it again
      const cur = this.entries.get(e.id);
      if (cur) this.pump(cur);
    });
    const r = await readOne(this.session, this.paths, e.id, watcher);
    // Nobody waits on it any more, or the tree watch took over meanwhile: the library armed
    // the watch with the reply; take it off again.
    if (this.entries.get(e.id) !== e || this.mode === 'tree') this.forgetWatch(e.id);
    this.end(e, covered, r);
  }

  /** Tree mode: many records in multiReads, answered group by group as replies come. */
  private async readBatch(batch: Entry<W>[]): Promise<void> {
    const covered = new Map(batch.map((e) => [e.id, { e, covered: this.begin(e) }]));
    await readMany(this.session, this.paths, this.sizes, [...covered.keys()], (ids, outcomes) => {
      ids.forEach((id, i) => {
        const c = covered.get(id)!;
        this.end(c.e, c.covered, outcomes[i]!);
      });
    });
  }

  /** A read is sent: it covers only the waits present now (one that joins later, after its caller's own write, say, must not be answered by an older read). */
  private begin(e: Entry<W>): W[] {
    e.reading = true;
    e.again = false;
    this.inFlight++;
    return [...e.waiters];
  }

  private end(e: Entry<W>, covered: W[], r: ReadOutcome): void {
    try {
      this.hooks.apply(e.id, covered, r);
      this.afterRead(e, r);
    } finally {
      e.reading = false;
      this.inFlight--;
    }
    if (e.again) this.pump(e);
  }

  private afterRead(e: Entry<W>, r: ReadOutcome): void {
    e.stalled = r.kind === 'away';
    if (!e.stalled || this.session.state !== 'connected') return;
    // Back already (its event may have come during the read): read again rather than wait
    // for an event that has passed; at once after a new session, shortly after a connection loss.
    if (r.kind === 'away' && r.what === 'session') e.again = true;
    else this.readLater(e);
  }

  private readLater(e: Entry<W>): void {
    this.later.add(e);
    this.laterTimer ??= setTimeout(() => {
      this.laterTimer = undefined;
      const now = [...this.later];
      this.later.clear();
      for (const x of now) if (this.entries.get(x.id) === x) this.pump(x);
    }, RETRY_MS);
  }

  /** Takes `id`'s watcher out of the session's registry (nobody waits on it now). */
  private forgetWatch(id: string): void {
    const watcher = this.watchers.take(id);
    if (watcher) this.session.forgetDataWatch(this.paths.task(id), watcher);
  }
}
