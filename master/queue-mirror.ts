// Keeps the queue index a mirror of queue/: one persistent recursive watch on the queue
// directory delivers every entry created or deleted (O(log n) each in the index), and after
// every (re)arm of that watch (first arm, reconnect, new session: events may have been
// missed) every shard is listed again in the background, a few at a time, each diffed in
// chunks. Nothing here is on a round's critical path: rounds take from what is indexed so
// far, so a new leader assigns before its first listing is done (strict queue order across
// the whole queue holds once it is).
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import { SessionClosedError } from '../shared/zk/errors.js';
import type { TreeEvent, TreeWatch, ZkSession } from '../shared/zk/session.js';
import { sleep } from '../shared/util/coalescer.js';
import type { QueueIndex } from './queue-index.js';

/** Listing requests in flight at once: enough to hide the round trips, few enough to leave the session room for rounds. */
const PARALLEL_LISTINGS = 4;
/** What one listing reply may hold (bytes, estimated): far below jute.maxbuffer. */
const REPLY_BUDGET = 256 * 1024;
/** Shards in one multiRead at most (small shards: a handful of requests list them all). */
const MAX_SHARDS_PER_REQUEST = 50;
/** Pause before listing a shard again after a failure (the session retries within a request first), doubled per failure up to MAX_RETRY_MS. */
const RETRY_MS = 250;
const MAX_RETRY_MS = 30_000;
const NO_NODE = -101;
/** A listing this long is worth an info line. */
const SLOW_LISTING_MS = 1000;

export interface ListingProgress {
  /** Resets (watch arms) so far. */
  resets: number;
  /** When the first full listing finished (ms since epoch), or null. */
  firstListedAt: number | null;
  /** How long the last full listing took (ms), or null. */
  lastListingMs: number | null;
  /** Shards listed in the current reset. */
  shardsListed: number;
}

export class QueueMirror {
  private watch?: TreeWatch;
  private stopped = false;
  /** The index's generation of the reset under way (or last finished). */
  private gen = 0;
  private readonly abort = new AbortController();
  /** Resolved by widen(): until then one listing lane runs (the first round's reads go first). */
  private widened!: () => void;
  private readonly wide = new Promise<void>((r) => (this.widened = r));
  readonly progress: ListingProgress = { resets: 0, firstListedAt: null, lastListingMs: null, shardsListed: 0 };

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly index: QueueIndex,
    private readonly log: Logger,
    /** Something may be placeable now (entries came in). */
    private readonly onChange: () => void,
  ) {}

  /** Arms the watch; resolves once it is in place (the first listing runs in the background). */
  async start(): Promise<void> {
    const watch = await this.session.watchTree(
      this.paths.queue,
      (e) => this.onEvent(e),
      () => this.onReset(),
    );
    if (this.stopped) return void (await watch.close().catch(() => undefined));
    this.watch = watch;
  }

  /**
   * Lets the listing use all its lanes. Until then it lists one request at a time, so that
   * what a new leader's first round needs (members, assignments, its records, its multi) is
   * not queued behind replies of the whole queue.
   */
  widen(): void {
    this.widened();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.widened();
    this.abort.abort();
    await this.watch?.close().catch(() => undefined);
  }

  private onEvent(e: TreeEvent): void {
    if (this.stopped || e.type === 'changed') return;
    const at = this.paths.parseQueuePath(e.path);
    if (!at) return; // the queue directory or a shard directory
    if (e.type === 'deleted') this.index.deleted(at.name, at.shard);
    else if (this.index.created(at.shard, at.name)) this.onChange();
  }

  private onReset(): void {
    if (this.stopped) return;
    const gen = (this.gen = this.index.beginReset());
    this.progress.resets++;
    this.progress.shardsListed = 0;
    void this.listAll(gen);
  }

  /** Whether reset `gen` is still the one to finish. */
  private current(gen: number): boolean {
    return !this.stopped && this.gen === gen;
  }

  /**
   * Lists every shard for reset `gen`, PARALLEL_LISTINGS requests at a time, then sweeps what
   * no listing or event of it saw. Shards are a hash of the task id, so they are about the
   * same size: a request takes as many shards as the biggest one seen so far, twice over,
   * fits in REPLY_BUDGET (one at first; at 1,000,000 queued ~200 KB a shard, so one).
   */
  private async listAll(gen: number): Promise<void> {
    const t0 = Date.now();
    const todo = [...this.paths.shardNames];
    /** Bytes of the biggest shard listed so far (null: none yet, so one shard a request). */
    let biggest: number | null = null;
    const lane = async () => {
      while (todo.length > 0 && this.current(gen)) {
        const n = biggest === null ? 1 : Math.max(1, Math.min(MAX_SHARDS_PER_REQUEST, Math.floor(REPLY_BUDGET / (2 * Math.max(1, biggest)))));
        const listed = await this.listShards(todo.splice(0, n), gen);
        if (listed === null) return;
        for (const bytes of listed) biggest = Math.max(biggest ?? 0, bytes);
      }
    };
    // One lane at once; the others join when widened (or find nothing left to list).
    const first = lane();
    const more = Array.from({ length: PARALLEL_LISTINGS - 1 }, () => Promise.race([this.wide, first]).then(lane));
    await Promise.all([first, ...more]);
    if (!this.current(gen)) return;
    const swept = await this.index.finishReset(gen);
    if (!this.current(gen)) return;
    const ms = Date.now() - t0;
    this.progress.lastListingMs = ms;
    this.progress.firstListedAt ??= Date.now();
    // Info only when a person would want to know: a long listing (a big queue), or one that
    // found entries the watch had missed; otherwise every takeover and reconnect adds a line.
    const level = ms >= SLOW_LISTING_MS || swept > 0 ? 'info' : 'debug';
    this.log[level]({ ms, queued: this.index.size, swept, shards: this.paths.shardNames.length }, 'queue listed: strict queue order holds across every entry');
    this.onChange();
  }

  /**
   * Lists `shards` in one multiRead and diffs each; the reply sizes of those listed, or null
   * when the reset is over. A shard directory that is missing holds nothing (listed empty).
   * Shards whose listing failed (a failed item, or the whole request) are listed again, and
   * only they (each is applied once a reset: its tombstones end there), after a pause that
   * doubles with each failure: a shard that cannot be listed costs a request every 30 s.
   */
  private async listShards(shards: string[], gen: number): Promise<number[] | null> {
    const sizes: number[] = [];
    let todo = shards;
    for (let failures = 0; ; ) {
      const failed: string[] = [];
      let why = '';
      let at = 0;
      try {
        const got = await this.session.retrying(() => this.session.getChildrenMany(todo.map((s) => this.paths.queueShard(s)), { maxPerRequest: todo.length }));
        for (; at < got.length; at++) {
          const r = got[at]!;
          const shard = todo[at]!;
          if (!this.current(gen)) return null;
          if (!r.ok && r.code !== NO_NODE) {
            failed.push(shard);
            why = `listing ${this.paths.queueShard(shard)} failed with ZooKeeper error ${r.code}`;
            continue;
          }
          if (!r.ok) this.log.warn({ shard }, 'queue shard directory missing: nothing queued there');
          const children = r.ok ? r.children : [];
          await this.index.listed(shard, children, gen);
          this.progress.shardsListed++;
          let bytes = 0;
          for (const name of children) bytes += 4 + name.length;
          sizes.push(bytes);
          if (children.length > 0) this.onChange();
        }
      } catch (err) {
        // A reconnect brings a new reset (and this one ends); a closed session, the end.
        if (!this.current(gen) || err instanceof SessionClosedError) return null;
        failed.push(...todo.slice(at));
        why = (err as Error).message;
      }
      if (failed.length === 0) return sizes;
      const delay = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** failures++);
      this.log.warn({ shards: failed.length, err: why, retryInMs: delay }, 'queue shard listing failed; listing again');
      await sleep(delay, this.abort.signal);
      if (!this.current(gen)) return null;
      todo = failed;
    }
  }
}
