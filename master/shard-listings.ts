// Which queue shards the leader must list again, and the listings themselves: a shard is
// listed when its child watch fires (or it was never read), one getChildren per shard per
// change burst, pipelined across shards. Two rules keep the index's diffs sound:
//   - one listing (and its diff) per shard at a time: a re-listing waits for the one before,
//     so an older diff can never delete an entry a newer listing added;
//   - every listing of a refresh settles before a failure is thrown, and only the failed
//     shards stay dirty.
// After a new session (every watch gone) every shard is listed again.
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';

export class ShardListings {
  /** Shards whose watch fired (or never read): listed before the next round. */
  private readonly dirty = new Set<string>();
  /** shard → its listing and diff in flight (never rejects). */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The session generation the watches were armed in. */
  private generation: number;
  private readonly watchers: StableWatchers;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly onChange: () => void,
    /** Applies one listing of a shard (may yield). */
    private readonly diff: (shard: string, children: string[]) => Promise<void>,
  ) {
    this.watchers = new StableWatchers(session);
    this.generation = session.generation;
    this.invalidateAll();
  }

  invalidateAll(): void {
    for (const s of this.paths.shardNames) this.dirty.add(s);
  }

  invalidate(shard: string): void {
    this.dirty.add(shard);
  }

  /** Lists the dirty shards, re-arming their watches, and diffs each listing. */
  async refresh(): Promise<void> {
    if (this.generation !== this.session.generation) {
      this.generation = this.session.generation;
      this.invalidateAll();
    }
    if (this.dirty.size === 0) return;
    const shards = [...this.dirty];
    this.dirty.clear();
    const results = await Promise.allSettled(shards.map((shard) => this.refreshOne(shard)));
    let failure: PromiseRejectedResult | undefined;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      this.dirty.add(shards[i]!);
      failure ??= r;
    });
    if (failure) throw failure.reason;
  }

  /** One listing and diff of a shard at a time: a new one starts once the one before has settled. */
  private refreshOne(shard: string): Promise<void> {
    const before = this.inFlight.get(shard);
    const run = before ? before.then(() => this.list(shard)) : this.list(shard);
    const settled: Promise<void> = run.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.set(shard, settled);
    void settled.then(() => {
      if (this.inFlight.get(shard) === settled) this.inFlight.delete(shard);
    });
    return run;
  }

  private async list(shard: string): Promise<void> {
    const watcher = this.watchers.get(shard, (generation) => () => {
      if (generation !== this.session.generation) return;
      this.dirty.add(shard);
      this.onChange();
    });
    const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.queueShard(shard), watcher));
    await this.diff(shard, children);
  }
}
