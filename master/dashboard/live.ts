// Live updates for the dashboard's pages, as server-sent events on GET /api/events. The task
// feed (a watch over every task) is open only while at least one page is connected, and closed
// when the last one leaves: an unwatched master costs nothing per task. Task changes are sent
// in batches every FLUSH_MS (the last state of each task, at most BATCH_MAX a batch), so a
// burst of thousands of tasks a second is a few messages a second to each page; a batch that
// had to drop tasks says how many (`dropped`), and the page then re-reads /api/tasks/recent.
// When the feed opens, the recent list is seeded once from a listing (client/list.ts, the
// SEED_TASKS newest), so a page opened on a cluster does not start empty; past SEED_MAX_NAMES
// queued and kept tasks that listing would cost too much, and the list fills from events.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../shared/log.js';
import { listTasks } from '../../client/list.js';
import { childCounts } from '../../client/shard-listing.js';
import type { Paths } from '../../shared/protocol/paths.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { TaskFeed, type TaskEvent } from './feed.js';
import type { FailureEntry, Taken, TaskLog, TaskSummary } from './task-log.js';
import { DEAD_LETTER_MAX, type DeadLetter } from './dead-letter.js';
import { DeadLetterStream, type DeadLetterBody } from './dead-letter-stream.js';

export { DEAD_LETTER_SEED_SCAN } from './dead-letter-stream.js';

export const MAX_CLIENTS = 32;
const FLUSH_MS = 250;
export const BATCH_MAX = 200;
/** Tasks the recent list is seeded with when the feed opens. */
export const SEED_TASKS = 50;
/**
 * Seeding lists every queue/ and done/ name (~2 000 a request): above this many it is skipped
 * and the recent list fills from events only, so opening a page costs at most ~25 listings.
 */
export const SEED_MAX_NAMES = 50_000;
/** A page that reads slower than we write is dropped once this much waits for it. */
const MAX_BUFFERED_BYTES = 1 << 20;
const RETRY_OPEN_MS = 1000;

export interface LiveHubOptions {
  session: ZkSession;
  root: string;
  paths: Paths;
  log: Logger;
  /** Pages connected at most (default MAX_CLIENTS); more get a 503. */
  maxPages?: number;
  /** Tasks a batch carries at most (default BATCH_MAX); more in one window are counted as dropped. */
  batchMax?: number;
  /** Queue and done names above which the seed is skipped (default SEED_MAX_NAMES). */
  seedMaxNames?: number;
  tasks: TaskLog;
  /** The failed tasks (dead-letter.ts): cleared and seeded when the feed opens, kept by its events. */
  deadLetter: DeadLetter;
  /** What the `overview` event carries (computed only while pages are connected). */
  overview: () => unknown;
  /** Headers every response of the dashboard carries. */
  headers: Record<string, string>;
}

export class LiveHub {
  private readonly clients = new Set<ServerResponse>();
  private feed?: TaskFeed;
  private syncing?: Promise<void>;
  private closed = false;
  private pendingTasks = new Map<string, TaskSummary>();
  private pendingFailures: FailureEntry[] = [];
  private dropped = 0;
  private flushTimer?: NodeJS.Timeout;
  private overviewDue = false;
  /** The dead letter's seed state and throttled event (dead-letter-stream.ts). */
  private readonly deadLetter: DeadLetterStream;
  private retryTimer?: NodeJS.Timeout;
  /** Feed opens and closes so far (for tests and the README's cost figures). */
  readonly counts = { opened: 0, closed: 0 };

  private readonly maxPages: number;
  private readonly batchMax: number;

  constructor(private readonly opts: LiveHubOptions) {
    this.maxPages = opts.maxPages ?? MAX_CLIENTS;
    this.batchMax = opts.batchMax ?? BATCH_MAX;
    this.deadLetter = new DeadLetterStream(opts.deadLetter);
  }

  get clientCount(): number {
    return this.clients.size;
  }
  get feedOpen(): boolean {
    return this.feed !== undefined;
  }

  /** GET /api/events: holds the response open and streams events to it. */
  attach(req: IncomingMessage, res: ServerResponse): void {
    // A non-200 ends an EventSource for good: the page itself tries again after ~5 s.
    if (this.closed || this.clients.size >= this.maxPages) {
      res.writeHead(503, { ...this.opts.headers, 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' });
      res.end(this.closed ? 'dashboard closed\n' : `too many dashboard pages open (${this.maxPages})\n`);
      return;
    }
    res.writeHead(200, { ...this.opts.headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    const leave = () => {
      if (this.clients.delete(res)) this.sync();
    };
    req.on('close', leave);
    res.on('close', leave);
    this.send(res, 'overview', this.opts.overview());
    if (this.feed) {
      this.send(res, 'ready', { feed: true });
      this.send(res, 'dead-letter', this.deadLetterBody());
    }
    this.sync();
  }

  /** The cluster view changed or was sampled: pages get a fresh overview within FLUSH_MS. */
  overviewChanged(): void {
    if (this.clients.size === 0) return;
    this.overviewDue = true;
    this.scheduleFlush();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.retryTimer);
    this.deadLetter.close();
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.sync();
    await this.syncing;
  }

  /** Brings the feed in line with the pages: open while any is connected, closed otherwise. */
  private sync(): void {
    if (this.syncing) return;
    this.syncing = (async () => {
      for (;;) {
        const want = this.clients.size > 0 && !this.closed;
        if (want === (this.feed !== undefined)) break;
        if (want) {
          if (!(await this.openFeed())) break;
        } else {
          const feed = this.feed!;
          this.feed = undefined;
          this.counts.closed++;
          await feed.close().catch(() => undefined);
          this.opts.log.debug('task feed closed: no dashboard page open');
        }
      }
    })().finally(() => {
      this.syncing = undefined;
      // A page that came or went between the loop's last look and here: look again (unless
      // an open failed: its retry timer does).
      const want = this.clients.size > 0 && !this.closed;
      if (want !== (this.feed !== undefined) && !(want && this.retryTimer)) this.sync();
    });
  }

  private async openFeed(): Promise<boolean> {
    try {
      const feed = await TaskFeed.open({ session: this.opts.session, root: this.opts.root, log: this.opts.log });
      // What it held was kept by a feed now gone (tasks retried meanwhile): from the seed again.
      this.deadLetter.reset();
      feed.on('event', (e) => this.onEvent(e));
      feed.on('error', (err) => this.opts.log.warn({ err: err.message }, 'dashboard task feed'));
      this.feed = feed;
      this.counts.opened++;
      this.opts.log.debug('task feed open: a dashboard page is connected');
      for (const c of this.clients) this.send(c, 'ready', { feed: true });
      void this.seed(feed);
      return true;
    } catch (err) {
      if (this.closed) return false;
      this.opts.log.warn({ err: (err as Error).message }, 'dashboard task feed did not open; trying again');
      for (const c of this.clients) this.send(c, 'feed-error', { message: (err as Error).message });
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.sync();
      }, RETRY_OPEN_MS);
      this.retryTimer.unref();
      return false;
    }
  }

  /**
   * The newest SEED_TASKS tasks, once per feed opening (after it opened: a change while we
   * list comes as an event, and the log keeps the newer of the two). Cost: one listing
   * (client/list.ts: the shard stats, the assign/ listing, the queue/ and done/ names, the
   * records of the page), whatever the pages do next.
   */
  private async seed(feed: TaskFeed): Promise<void> {
    try {
      const { paths } = this.opts;
      const dirs = paths.shardNames.flatMap((s) => [paths.queueShard(s), paths.doneShard(s)]);
      const names = (await childCounts(this.opts.session, dirs)).reduce((a, b) => a + b, 0);
      if (names > (this.opts.seedMaxNames ?? SEED_MAX_NAMES)) {
        this.opts.log.debug({ names }, 'dashboard: too many tasks to seed the recent list from a listing; it fills from events');
        // The pages say the dead letter holds only the failures since the feed opened.
        this.deadLetter.markDue();
        this.scheduleFlush();
        return;
      }
      const page = await listTasks(this.opts.session, this.opts.paths, { limit: SEED_TASKS });
      if (this.feed !== feed) return;
      for (const r of page.tasks) this.queue(this.opts.tasks.seed(r));
      // The dead letter: the newest failed tasks among the newest DEAD_LETTER_SEED_SCAN finished.
      if (!(await this.deadLetter.seed(this.opts.session, this.opts.paths, () => this.feed === feed))) return;
      this.scheduleFlush();
    } catch (err) {
      this.opts.log.debug({ err: (err as Error).message }, 'dashboard: seeding recent tasks failed; the feed fills them in');
    }
  }

  /** Into the next batch; past batchMax it is counted in `dropped` (the page re-reads the lists). */
  private queue(got: Taken | null): void {
    if (!got || this.clients.size === 0) return;
    const { task } = got;
    if (!this.pendingTasks.has(task.id) && this.pendingTasks.size >= this.batchMax) this.dropped++;
    else {
      this.pendingTasks.delete(task.id);
      this.pendingTasks.set(task.id, task);
    }
    for (const f of got.failures) {
      if (this.pendingFailures.length < this.batchMax) this.pendingFailures.push(f);
      else this.dropped++;
    }
  }

  private onEvent(e: TaskEvent): void {
    this.queue(this.opts.tasks.add(e));
    if (e.record) this.deadLetter.take(e.record);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
    this.flushTimer.unref();
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.overviewDue) {
      this.overviewDue = false;
      this.broadcast('overview', this.opts.overview());
    }
    this.deadLetter.flush((body) => this.broadcast('dead-letter', body), () => this.scheduleFlush());
    if (this.pendingTasks.size > 0 || this.pendingFailures.length > 0) {
      const body = { tasks: [...this.pendingTasks.values()], failures: this.pendingFailures, dropped: this.dropped };
      this.pendingTasks = new Map();
      this.pendingFailures = [];
      this.dropped = 0;
      this.broadcast('tasks', body);
    }
  }

  /** The whole (bounded) dead letter (dead-letter-stream.ts's body: seeded, complete, scan). */
  deadLetterBody(limit = DEAD_LETTER_MAX): DeadLetterBody {
    return this.deadLetter.body(limit);
  }

  private broadcast(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) this.write(c, frame);
  }

  private send(res: ServerResponse, event: string, data: unknown): void {
    this.write(res, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(res: ServerResponse, frame: string): void {
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      this.clients.delete(res);
      res.destroy();
      this.sync();
      return;
    }
    res.write(frame);
  }
}
