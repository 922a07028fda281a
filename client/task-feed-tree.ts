// The task feed's source for every task: one persistent recursive watch on tasks/ (a record
// created or changed: read it) and one on assign/ (an assignment's data changed: its
// progress). Reads asked for in one turn of the event loop go out together, records in
// multiReads sized by what was seen (record-reads.ts readMany), assignment nodes in one
// getDataMany; a task has one read in flight at most (an event during it reads once more
// after). After a reconnect (the watch's reset) the unfinished tasks the feed follows are read
// again, and the tasks held in assign/ it did not know; it emits what changed. Assignment
// nodes and directory listings are read as the leader reads them (master/held-reads.ts):
// packed so a reply stays under ~448 KiB (a node at the result cap, a listing by the
// directory's child count), never 50 at a time unsized.
import { Paths } from '../shared/protocol/paths.js';
import type { TreeEvent, TreeWatch } from '../shared/zk/session.js';
import { listAssignDirs, readAssignments } from '../master/held-reads.js';
import type { FeedSink } from './task-feed.js';
import { RecordSizes, readMany } from './record-reads.js';

/** Directory nodes per stat read (empty znodes: a stat each). */
const DIRS_PER_STAT_READ = 100;
/** Children a directory may gain between its stat and its listing (a member's capacity bounds them). */
const LISTING_SLACK = 16;

export class TreeSource {
  private readonly dirty = new Set<string>();
  private readonly reading = new Set<string>();
  private readonly again = new Set<string>();
  /** Reads that failed for want of ZooKeeper: again at the next reset. */
  private readonly stalled = new Set<string>();
  /** Assignment paths whose data changed, by task id. */
  private readonly progressDue = new Map<string, { path: string; member: string }>();
  /** Progress of tasks not known yet: read once their record is. */
  private readonly progressLater = new Map<string, { path: string; member: string }>();
  private readonly sizes = new RecordSizes();
  private flushing?: NodeJS.Immediate;
  private tasksWatch?: TreeWatch;
  private assignWatch?: TreeWatch;
  private resets = 0;

  private constructor(private readonly sink: FeedSink) {}

  static async open(sink: FeedSink): Promise<TreeSource> {
    const s = new TreeSource(sink);
    try {
      s.tasksWatch = await sink.session.watchTree(sink.paths.tasks, s.onTaskEvent, s.onReset);
      s.assignWatch = await sink.session.watchTree(sink.paths.assign, s.onAssignEvent, () => undefined);
    } catch (err) {
      await s.close();
      throw err;
    }
    return s;
  }

  missing(): string[] {
    return [];
  }

  async close(): Promise<void> {
    if (this.flushing) clearImmediate(this.flushing);
    await Promise.all([this.tasksWatch?.close(), this.assignWatch?.close()].map((p) => p?.catch(() => undefined)));
  }

  private readonly onTaskEvent = (e: TreeEvent): void => {
    // A removed record (retention) ends nothing the feed shows.
    if (e.type === 'deleted' || this.sink.paths.partOf(e.path) !== 'record') return;
    const id = e.path.slice(e.path.lastIndexOf('/') + 1);
    if (!this.sink.skipped(id)) this.mark(id);
  };

  private readonly onAssignEvent = (e: TreeEvent): void => {
    // Only a data change is progress; creations and removals follow the record, which says more.
    if (e.type !== 'changed' || this.sink.paths.partOf(e.path) !== 'assignment') return;
    const slash = e.path.lastIndexOf('/');
    const name = Paths.parseAssignment(e.path.slice(slash + 1));
    if (!name || this.sink.skipped(name.taskId)) return;
    const dir = e.path.slice(0, slash);
    this.progressDue.set(name.taskId, { path: e.path, member: dir.slice(dir.lastIndexOf('/') + 1) });
    this.schedule();
  };

  private readonly onReset = (): void => {
    // The first reset follows the first arming: nothing was missed yet.
    if (this.resets++ === 0) return;
    for (const id of [...this.sink.unfinished(), ...this.stalled]) this.mark(id);
    this.stalled.clear();
    void this.heldUnknown().catch((err) => this.sink.log.debug({ err: (err as Error).message }, 'task feed: listing assignments failed'));
  };

  /**
   * Tasks held in assign/ that the feed does not know (assigned in the gap): read them. The
   * directories' child counts first (their stats, tiny replies), so each listing request is
   * packed by what it holds: 64 members × 100 long names is over 1 MB in one request.
   */
  private async heldUnknown(): Promise<void> {
    const session = this.sink.session;
    const { children: members } = await session.retrying(() => session.getChildren(this.sink.paths.assign));
    const dirs = members.map((m) => this.sink.paths.assignDir(m));
    const stats = await session.retrying(() => session.getDataMany(dirs, { maxPerRequest: DIRS_PER_STAT_READ }));
    const load = new Map<string, number>();
    members.forEach((m, i) => {
      const r = stats[i]!;
      load.set(m, r.ok ? r.stat.numChildren + LISTING_SLACK : 0);
    });
    const present = members.filter((m) => load.get(m)! > 0);
    const lists = await listAssignDirs(session, this.sink.paths, present, (m) => load.get(m)!);
    for (const names of lists.values()) {
      for (const n of names ?? []) {
        const a = Paths.parseAssignment(n);
        if (a && !this.sink.seen(a.taskId) && !this.sink.skipped(a.taskId)) this.mark(a.taskId);
      }
    }
  }

  private mark(id: string): void {
    if (this.reading.has(id)) this.again.add(id);
    else this.dirty.add(id);
    this.schedule();
  }

  private schedule(): void {
    if (this.flushing || this.sink.closed) return;
    this.flushing = setImmediate(() => {
      this.flushing = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const ids = [...this.dirty];
    this.dirty.clear();
    for (const id of ids) this.reading.add(id);
    if (ids.length > 0) {
      void readMany(this.sink.session, this.sink.paths, this.sizes, ids, (group, outcomes) => {
            group.forEach((id, i) => this.applyRecord(id, outcomes[i]!));
      }).catch((err) => this.sink.failed(err));
    }
    const progress = [...this.progressDue];
    this.progressDue.clear();
    if (progress.length > 0) void this.readProgress(progress);
  }

  private applyRecord(id: string, o: Parameters<Parameters<typeof readMany>[4]>[1][number]): void {
    this.reading.delete(id);
    if (this.sink.closed) return;
    if (o.kind === 'record' && o.rec) {
      for (const gone of this.sink.record(o.rec, true)) this.sizes.forget(gone);
      const later = this.progressLater.get(id);
      if (later) {
        this.progressLater.delete(id);
        this.progressDue.set(id, later);
        this.schedule();
      }
    } else if (o.kind === 'away') this.stalled.add(id);
    else if (o.kind === 'error') this.sink.failed(o.err);
    else this.progressLater.delete(id);
    if (this.again.delete(id)) this.mark(id);
  }

  private async readProgress(items: Array<[string, { path: string; member: string }]>): Promise<void> {
    let results;
    try {
      results = await readAssignments(this.sink.session, items.map(([, a]) => a.path));
    } catch (err) {
      this.sink.log.debug({ err: (err as Error).message }, 'task feed: progress read failed');
      return;
    }
    results.forEach((r, i) => {
      const [id, a] = items[i]!;
      if (!r?.ok) return;
      const shown = this.sink.progress(id, a.member, r.data);
      if (shown === 'done') return;
      // Shown after its record: the one read (unknown) or being read (its start not shown yet).
      this.progressLater.set(id, a);
      if (shown === 'unknown') this.mark(id);
    });
  }
}
