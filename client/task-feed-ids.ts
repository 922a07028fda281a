// The task feed's source for given ids: one data watch per record (exists while it is
// missing), re-set by each read, and one on the current attempt's assignment node for its
// progress. One read per task at a time (a watch firing during it reads once more after).
// When ZooKeeper is back (the same session, or a new one whose watches are all new) every
// id is read again, once, LONE_IN_FLIGHT at a time (so at open); the feed emits only what
// changed.
import { NoNodeError } from '../shared/zk/errors.js';
import type { SessionState, Watcher } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import type { FeedSink } from './task-feed.js';
import { readOne } from './record-reads.js';
import { LONE_IN_FLIGHT, pooled } from '../shared/util/pool.js';
import { Coalescer } from '../shared/util/coalescer.js';

interface Entry {
  /** Reads the record one at a time; a watch firing during a read makes one more after it. */
  reader: Coalescer;
  /** The read after this one may skip phases (false only for the first, baseline read). */
  fill: boolean;
  /** The current attempt's assignment node, while assigned/running. */
  assignment?: { path: string; member: string };
  /** The same for the assignment node's progress. */
  progressReader: Coalescer;
  /** A progress read before the record showed the start: read again once it does. */
  progressDeferred: boolean;
  missing: boolean;
}

export class IdsSource {
  private readonly entries = new Map<string, Entry>();
  private readonly watchers: StableWatchers;

  private constructor(
    private readonly sink: FeedSink,
    ids: readonly string[],
  ) {
    this.watchers = new StableWatchers(sink.session);
    const failed = (err: unknown) => sink.failed(err);
    for (const id of new Set(ids)) {
      this.entries.set(id, {
        reader: new Coalescer(() => this.readOnce(id), failed),
        progressReader: new Coalescer(() => this.readProgressOnce(id), failed),
        fill: false,
        progressDeferred: false,
        missing: false,
      });
    }
    sink.session.on('state', this.onState);
    sink.session.on('session', this.onSession);
  }

  static async open(sink: FeedSink, ids: readonly string[]): Promise<IdsSource> {
    const s = new IdsSource(sink, ids);
    await pooled([...s.entries.keys()], (id) => s.read(id), LONE_IN_FLIGHT);
    return s;
  }

  missing(): string[] {
    return [...this.entries].filter(([, e]) => e.missing).map(([id]) => id);
  }

  async close(): Promise<void> {
    this.sink.session.off('state', this.onState);
    this.sink.session.off('session', this.onSession);
    for (const [id, e] of this.entries) {
      const w = this.watchers.take(`r:${id}`);
      if (w) this.sink.session.forgetDataWatch(this.sink.paths.task(id), w);
      const p = this.watchers.take(`p:${id}`);
      if (p && e.assignment) this.sink.session.forgetDataWatch(e.assignment.path, p);
    }
  }

  // Back on the same session (disconnected → connected): read all again. After an expiry the
  // new session's 'session' event does it (its 'connected' comes from 'expired': not twice).
  private readonly onState = (state: SessionState, previous: SessionState): void => {
    if (state === 'connected' && previous === 'disconnected') this.readAll();
  };
  private readonly onSession = (): void => this.readAll();

  private readAll(): void {
    void pooled([...this.entries.keys()], async (id) => {
      await this.read(id);
      await this.readProgress(id);
    }, LONE_IN_FLIGHT).catch((err) => this.sink.failed(err));
  }

  private recordWatcher(id: string): Watcher {
    return this.watchers.get(`r:${id}`, () => () => void this.read(id));
  }

  private progressWatcher(id: string): Watcher {
    return this.watchers.get(`p:${id}`, () => () => void this.readProgress(id));
  }

  /** Reads the record (again, once, if a read is in flight); resolves when no read is. */
  private read(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e || this.sink.closed) return Promise.resolve();
    e.reader.kick();
    return e.reader.settled();
  }

  private async readOnce(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e || this.sink.closed) return;
    const session = this.sink.session;
    const o = await readOne(session, this.sink.paths, id, this.recordWatcher(id));
    if (this.sink.closed) return;
    if (o.kind === 'record') {
      e.missing = false;
      // A malformed record (rec null) is failed by the leader; that write is seen next.
      if (!o.rec) return;
      this.sink.record(o.rec, e.fill);
      e.fill = true;
      const rec = o.rec;
      const held = (rec.state === 'assigned' || rec.state === 'running') && rec.worker ? { path: this.sink.paths.assignment(rec.worker, id, rec.attempt), member: rec.worker } : undefined;
      if (held?.path !== e.assignment?.path) {
        e.assignment = held;
        e.progressDeferred = false;
        if (held) void this.readProgress(id);
      } else if (held && e.progressDeferred && rec.state === 'running') {
        e.progressDeferred = false;
        void this.readProgress(id);
      }
    } else if (o.kind === 'missing') {
      e.missing = true;
      // Watch for its creation; created meanwhile: read it again.
      const stat = await session.exists(this.sink.paths.task(id), this.recordWatcher(id)).catch(() => null);
      if (stat) e.reader.kick();
    } else if (o.kind === 'error') {
      this.sink.failed(o.err);
    }
    // 'away': read again when ZooKeeper is back (onState / onSession).
  }

  private readProgress(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e || this.sink.closed || !e.assignment) return Promise.resolve();
    e.progressReader.kick();
    return e.progressReader.settled();
  }

  private async readProgressOnce(id: string): Promise<void> {
    const e = this.entries.get(id);
    const held: Entry['assignment'] = e?.assignment;
    if (!e || !held || this.sink.closed) return;
    try {
      const { data } = await this.sink.session.getData(held.path, this.progressWatcher(id));
      if (!this.sink.closed && e.assignment?.path === held.path && this.sink.progress(id, held.member, data) !== 'done') e.progressDeferred = true;
    } catch (err) {
      // Gone: the attempt ended (the record's watch says how). Other failures: read again when back.
      if (!(err instanceof NoNodeError)) this.sink.log.debug({ err: (err as Error).message, id }, 'task feed: progress read failed');
    }
  }
}
