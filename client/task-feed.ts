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
import { parseProgress, progressEvent, recordEvents, seenOf, type Seen, type TaskEvent } from './task-feed-events.js';
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
  /**
   * A record read; `fill`: emit the phases the reads skipped (not for a baseline read).
   * Returns the ids the feed forgot to stay bounded (their read sizes can go too).
   */
  record(rec: TaskRecord, fill: boolean): string[];
  /**
   * An assignment node's data read (its progress): 'done' (shown, or nothing to show),
   * 'unknown' (the task is not known: read its record first), 'later' (its start is not
   * shown yet: shown after the record that shows it, so progress never comes before started).
   */
  progress(id: string, member: string, data: Buffer): 'done' | 'unknown' | 'later';
  seen(id: string): Seen | undefined;
  /** A task known to be of another type than the feed's (no need to read it again). */
  skipped(id: string): boolean;
  /** Ids followed and not finished (what a reset re-reads). */
  unfinished(): string[];
  /** Whether terminal tasks are forgotten (tree mode: memory follows the unfinished only). */
  readonly forgetFinished: boolean;
  failed(err: unknown): void;
  readonly closed: boolean;
}

/** Finished tasks remembered by a feed of every task (bounded: a late event of an older one may show it again). */
const RECENTLY_FINISHED = 10_000;
/**
 * Unfinished tasks a feed of every task follows, the most recently changed (bounded: memory
 * and a reconnect's re-reads do not grow with the backlog). One dropped is read again at its
 * next change, and shown from there.
 */
export const KNOWN_MAX = 10_000;
/** Tasks of other types than the feed's, remembered so that they are not read again (bounded). */
const SKIPPED_MAX = 10_000;

/** Adds `id` to an insertion-ordered set bounded at `max` (the oldest goes). */
function remember(set: Set<string>, id: string, max: number): void {
  set.add(id);
  if (set.size > max) set.delete(set.values().next().value!);
}

/** Sets `id` last in an insertion-ordered map bounded at `max` (the oldest goes). */
function rememberSeen(map: Map<string, Seen>, id: string, seen: Seen, max: number): void {
  map.delete(id);
  map.set(id, seen);
  if (map.size > max) map.delete(map.keys().next().value!);
}

interface Source {
  close(): Promise<void>;
  missing(): string[];
}

export class TaskFeed extends EventEmitter<{ event: [TaskEvent]; error: [Error] }> implements FeedSink {
  /** When it opened: a task created since and first read past queued was queued while it watched. */
  private readonly openedAt = Date.now();
  private readonly known = new Map<string, Seen>();
  /**
   * Tree mode: tasks finished lately (forgotten from `known`) and what was seen of them, so a
   * late event (the same record read again) does not show them again, and a retry (a newer
   * record: one task's reads come back in order) is shown from where they ended.
   */
  private readonly finished = new Map<string, Seen>();
  private readonly others = new Set<string>();
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

  record(rec: TaskRecord, fill: boolean): string[] {
    if (this._closed) return [];
    const ended = this.finished.get(rec.id);
    if (ended) {
      // The version that finished, read again (a late event): nothing new.
      if (ended.key === seenOf(rec).key) return [];
      // A newer version (an operator's retry, maybe already re-run): shown from its end.
      this.finished.delete(rec.id);
    }
    if (this.opts.type !== undefined && rec.type !== this.opts.type) {
      // A type never changes: never shown, never read again (tree mode), whatever it does.
      this.known.delete(rec.id);
      remember(this.others, rec.id, SKIPPED_MAX);
      return [rec.id];
    }
    const prev = this.known.get(rec.id) ?? ended;
    const events = recordEvents(prev, rec, fill, this.openedAt);
    const forgot: string[] = [];
    if (this.forgetFinished && isTerminal(rec.state)) {
      this.known.delete(rec.id);
      rememberSeen(this.finished, rec.id, seenOf(rec), RECENTLY_FINISHED);
      forgot.push(rec.id);
    } else if (!prev || prev.key !== seenOf(rec).key) {
      // Re-inserted: the Map's order is the order of last change, the oldest first.
      this.known.delete(rec.id);
      this.known.set(rec.id, { ...seenOf(rec), ...(prev?.progressAt !== undefined && prev.attempt === rec.attempt ? { progressAt: prev.progressAt } : {}) });
      if (this.forgetFinished && this.known.size > KNOWN_MAX) {
        const oldest = this.known.keys().next().value!;
        this.known.delete(oldest);
        forgot.push(oldest);
      }
    }
    for (const e of events) this.send(e);
    return forgot;
  }

  skipped(id: string): boolean {
    return this.others.has(id);
  }

  private send(e: TaskEvent): void {
    if (this._closed) return;
    if (this.held) this.held.push(e);
    else this.emit('event', e);
  }

  progress(id: string, member: string, data: Buffer): 'done' | 'unknown' | 'later' {
    if (this._closed || this.others.has(id)) return 'done';
    const ended = this.finished.get(id);
    // Progress of a later attempt than the finish seen: retried since (its record read next).
    if (ended) return (parseProgress(data)?.attempt ?? 0) > ended.attempt ? 'unknown' : 'done';
    const prev = this.known.get(id);
    if (!prev) return 'unknown';
    if (prev.phase === 3) return 'done';
    if (prev.phase < 2) return 'later';
    const e = progressEvent(prev, id, member, data);
    if (e) this.send(e);
    return 'done';
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
