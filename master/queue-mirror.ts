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

/** Shard listings in flight at once: enough to hide the round trips, few enough to leave the session room for rounds. */
const PARALLEL_LISTINGS = 4;
/** Pause before listing a shard again after a failure (the session retries within a request first). */
const RETRY_MS = 250;

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

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.watch?.close().catch(() => undefined);
  }

  private onEvent(e: TreeEvent): void {
    if (this.stopped || e.type === 'changed') return;
    const at = this.paths.parseQueuePath(e.path);
    if (!at) return; // the queue directory or a shard directory
    if (e.type === 'deleted') this.index.deleted(at.name);
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

  /** Lists every shard for reset `gen`, PARALLEL_LISTINGS at a time, then sweeps what no listing or event of it saw. */
  private async listAll(gen: number): Promise<void> {
    const t0 = Date.now();
    const shards = this.paths.shardNames;
    let next = 0;
    const lane = async () => {
      while (next < shards.length && this.current(gen)) await this.listShard(shards[next++]!, gen);
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_LISTINGS, shards.length) }, lane));
    if (!this.current(gen)) return;
    const swept = await this.index.finishReset(gen);
    if (!this.current(gen)) return;
    const ms = Date.now() - t0;
    this.progress.lastListingMs = ms;
    this.progress.firstListedAt ??= Date.now();
    this.log.info({ ms, queued: this.index.size, swept, shards: shards.length }, 'queue listed: strict queue order holds across every entry');
    this.onChange();
  }

  private async listShard(shard: string, gen: number): Promise<void> {
    for (;;) {
      try {
        const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.queueShard(shard)));
        if (!this.current(gen)) return;
        await this.index.listed(shard, children, gen);
        this.progress.shardsListed++;
        if (children.length > 0) this.onChange();
        return;
      } catch (err) {
        // A reconnect brings a new reset (and this one ends); a closed session, the end.
        if (!this.current(gen) || err instanceof SessionClosedError) return;
        this.log.warn({ shard, err: (err as Error).message }, 'queue shard listing failed; listing it again');
        await sleep(RETRY_MS, this.abort.signal);
      }
    }
  }
}
