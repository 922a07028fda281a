// A stream of task events (queued, assigned, started, progress, retried, lost, finished),
// from watches only: per record while `ids` is given (task-feed-ids.ts), otherwise persistent
// recursive watches on tasks/ and assign/ (task-feed-tree.ts). The kinds are derived from the
// records (task-feed-events.ts). Events of one task come in the order of its record versions:
// a task has at most one read in flight, and a session's replies come in order.
import { EventEmitter } from 'node:events';
import type { Logger } from '../shared/log.js';
import { silentLogger } from '../shared/log.js';
import { openLayout } from '../shared/protocol/layout.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { isTerminal } from '../shared/protocol/task-state.js';
import type { ZkSession } from '../shared/zk/session.js';
import { NoClusterError } from './drover-client.js';
import { progressEvent, recordEvents, seenOf, type Seen, type TaskEvent } from './task-feed-events.js';
import { IdsSource } from './task-feed-ids.js';
import { TreeSource } from './task-feed-tree.js';

export type { TaskEvent, TaskEventKind } from './task-feed-events.js';

export interface TaskFeedOptions {
  /** Shared: not closed by the feed. */
  session: ZkSession;
  root: string;
  /** Only these tasks (per-record watches); otherwise every task. */
  ids?: string[];
  /** Only tasks of this type. */
  type?: string;
  log?: Logger;
}

/** What a source hands its feed (task-feed-ids.ts, task-feed-tree.ts). */
export interface FeedSink {
  readonly paths: Paths;
  readonly session: ZkSession;
  readonly log: Logger;
  /** A record read; `fill`: emit the phases the reads skipped (not for a baseline read). */
  record(rec: TaskRecord, fill: boolean): void;
  /** An assignment node's data read (its progress); false when the task is not known yet. */
  progress(id: string, member: string, data: Buffer): boolean;
  seen(id: string): Seen | undefined;
  /** Ids followed and not finished (what a reset re-reads). */
  unfinished(): string[];
  /** Whether terminal tasks are forgotten (tree mode: memory follows the unfinished only). */
  readonly forgetFinished: boolean;
  failed(err: unknown): void;
  readonly closed: boolean;
}

/** Finished tasks remembered by a feed of every task (bounded: a late event of an older one may show it again). */
const RECENTLY_FINISHED = 10_000;

interface Source {
  close(): Promise<void>;
  missing(): string[];
}

export class TaskFeed extends EventEmitter<{ event: [TaskEvent]; error: [Error] }> implements FeedSink {
  private readonly known = new Map<string, Seen>();
  /** Tree mode: tasks finished lately (forgotten from `known`), so a late event does not show them again. */
  private readonly finished = new Set<string>();
  private source?: Source;
  private _closed = false;
  /** Events found while opening: emitted just after open() resolves, so a listener added after `await` sees them. */
  private held: TaskEvent[] | null = [];
  readonly log: Logger;
  readonly forgetFinished: boolean;

  private constructor(
    readonly paths: Paths,
    private readonly opts: TaskFeedOptions,
  ) {
    super();
    this.log = opts.log ?? silentLogger;
    this.forgetFinished = !opts.ids;
  }

  get session(): ZkSession {
    return this.opts.session;
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Resolves once its watches are set (with `ids`: once each record has been read, its events emitted). */
  static async open(opts: TaskFeedOptions): Promise<TaskFeed> {
    const paths = await openLayout(opts.session, opts.root);
    if (!paths) throw new NoClusterError(`no drover cluster under ${opts.root} (no layout node)`);
    const feed = new TaskFeed(paths, opts);
    try {
      feed.source = opts.ids ? await IdsSource.open(feed, opts.ids) : await TreeSource.open(feed);
    } catch (err) {
      await feed.close();
      throw err;
    }
    setImmediate(() => {
      const held = feed.held ?? [];
      feed.held = null;
      for (const e of held) feed.send(e);
    });
    return feed;
  }

  /** With `ids`: those whose record did not exist when last read (their creation is watched). */
  missing(): string[] {
    return this.source?.missing() ?? [];
  }

  async close(): Promise<void> {
    if (this._closed) return;
    this._closed = true;
    await this.source?.close();
  }

  record(rec: TaskRecord, fill: boolean): void {
    if (this._closed || this.finished.has(rec.id)) return;
    const prev = this.known.get(rec.id);
    const skip = this.opts.type !== undefined && rec.type !== this.opts.type;
    const events = skip ? [] : recordEvents(prev, rec, fill);
    if (this.forgetFinished && isTerminal(rec.state)) {
      this.known.delete(rec.id);
      this.finished.add(rec.id);
      // Insertion order: the oldest goes first.
      if (this.finished.size > RECENTLY_FINISHED) this.finished.delete(this.finished.values().next().value!);
    }
    else if (!prev || prev.key !== seenOf(rec).key) this.known.set(rec.id, { ...seenOf(rec, skip), ...(prev?.progressAt !== undefined && prev.attempt === rec.attempt ? { progressAt: prev.progressAt } : {}) });
    for (const e of events) this.send(e);
  }

  private send(e: TaskEvent): void {
    if (this._closed) return;
    if (this.held) this.held.push(e);
    else this.emit('event', e);
  }

  progress(id: string, member: string, data: Buffer): boolean {
    if (this._closed || this.finished.has(id)) return true;
    const prev = this.known.get(id);
    if (!prev) return false;
    if (prev.skip || prev.phase === 3) return true;
    const e = progressEvent(prev, id, member, data);
    if (e) this.send(e);
    return true;
  }

  seen(id: string): Seen | undefined {
    return this.known.get(id);
  }

  unfinished(): string[] {
    const out: string[] = [];
    for (const [id, s] of this.known) if (s.phase < 3) out.push(id);
    return out;
  }

  failed(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    // An 'error' without a listener would throw out of the watch that found it.
    if (this.listenerCount('error') > 0) this.emit('error', e);
    else this.log.warn({ err: e.message }, 'task feed: read failed');
  }
}
