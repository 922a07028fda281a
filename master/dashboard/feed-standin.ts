// A minimal stand-in for client/task-feed.ts (its contract: /work/prompts/i13/feed-contract.md),
// used by the dashboard until the real feed lands; feed.ts is the one place that picks which.
// Every task on ONE persistent recursive watch on tasks/; a record created or changed is read
// (reads pending together go in one multiRead) and turned into an event. No progress events,
// no `ids`/`type` filter, no re-read after a reconnect (the dashboard only shows recent tasks).
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../../shared/log.js';
import { openLayout } from '../../shared/protocol/layout.js';
import type { Paths } from '../../shared/protocol/paths.js';
import { decodeRecord, type TaskRecord } from '../../shared/protocol/task-record.js';
import type { TaskState } from '../../shared/protocol/task-state.js';
import { isTerminal } from '../../shared/protocol/task-state.js';
import { Coalescer } from '../../shared/util/coalescer.js';
import type { TreeWatch, ZkSession } from '../../shared/zk/session.js';

export type TaskEventKind = 'queued' | 'assigned' | 'started' | 'progress' | 'retried' | 'lost' | 'finished';
export interface TaskEvent {
  kind: TaskEventKind;
  id: string;
  type: string;
  state: TaskState;
  attempt: number;
  worker: string | null;
  at: number;
  progress?: unknown;
  record?: TaskRecord;
}
export interface TaskFeedOptions {
  session: ZkSession;
  root: string;
  ids?: string[];
  type?: string;
  log?: Logger;
}

/** Records per multiRead: a record may be hundreds of KB, but most are small. */
const RECORDS_PER_READ = 20;
/** Tasks in flight remembered (to tell a loss from a retry): bounded, whatever the backlog. */
const MAX_TRACKED = 10_000;

interface Seen {
  updatedAt: number;
  state: TaskState;
  lost: number;
}

function kindOf(r: TaskRecord, prev: Seen | undefined): TaskEventKind {
  if (isTerminal(r.state)) return 'finished';
  if (r.state === 'assigned') return 'assigned';
  if (r.state === 'running') return 'started';
  if (r.attempt === 0) return 'queued';
  return (r.lost ?? 0) > (prev?.lost ?? 0) ? 'lost' : 'retried';
}

export class TaskFeed extends EventEmitter<{ event: [TaskEvent]; error: [Error] }> {
  private watch?: TreeWatch;
  private closed = false;
  private readonly dirty = new Set<string>();
  /** The last record seen of each task still in flight (to tell a loss from a retry). */
  private readonly last = new Map<string, Seen>();
  private readonly reader: Coalescer;

  private constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly log: Logger,
  ) {
    super();
    this.reader = new Coalescer(
      () => this.readDirty(),
      (err) => {
        if (!this.closed) this.emit('error', err as Error);
      },
    );
  }

  static async open(opts: TaskFeedOptions): Promise<TaskFeed> {
    const paths = await openLayout(opts.session, opts.root);
    if (!paths) throw new Error(`no drover cluster under ${opts.root}`);
    const feed = new TaskFeed(opts.session, paths, (opts.log ?? silentLogger).child({ component: 'task-feed' }));
    feed.watch = await opts.session.watchTree(
      paths.tasks,
      (e) => feed.onPath(e.type, e.path),
      () => undefined,
    );
    return feed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.dirty.clear();
    this.last.clear();
    await this.watch?.close().catch(() => undefined);
    await this.reader.settled();
  }

  private onPath(type: 'created' | 'deleted' | 'changed', path: string): void {
    if (this.closed || this.paths.partOf(path) !== 'record') return;
    const id = path.slice(path.lastIndexOf('/') + 1);
    if (type === 'deleted') {
      this.dirty.delete(id);
      this.last.delete(id);
      return;
    }
    this.dirty.add(id);
    this.reader.kick();
  }

  private async readDirty(): Promise<void> {
    while (this.dirty.size > 0 && !this.closed) {
      const ids = [...this.dirty].slice(0, RECORDS_PER_READ * 10);
      for (const id of ids) this.dirty.delete(id);
      const got = await this.session.getDataMany(
        ids.map((id) => this.paths.task(id)),
        { maxPerRequest: RECORDS_PER_READ },
      );
      got.forEach((r, i) => {
        if (!r.ok || this.closed) return;
        let rec: TaskRecord;
        try {
          rec = decodeRecord(r.data, ids[i]);
        } catch (err) {
          this.log.debug({ taskId: ids[i], err: (err as Error).message }, 'record not shown: malformed');
          return;
        }
        const prev = this.last.get(rec.id);
        if (prev && prev.updatedAt === rec.updatedAt && prev.state === rec.state) return;
        if (isTerminal(rec.state)) this.last.delete(rec.id);
        else {
          // Bounded: past the cap the oldest is forgotten (its next loss then reads as a retry).
          this.last.delete(rec.id);
          this.last.set(rec.id, { updatedAt: rec.updatedAt, state: rec.state, lost: rec.lost ?? 0 });
          if (this.last.size > MAX_TRACKED) this.last.delete(this.last.keys().next().value!);
        }
        this.emit('event', { kind: kindOf(rec, prev), id: rec.id, type: rec.type, state: rec.state, attempt: rec.attempt, worker: rec.worker, at: rec.updatedAt, record: rec });
      });
    }
  }
}
