// The two ZooKeeper reads a master's metrics make, each cached and bounded so a scrape never
// waits on ZooKeeper for long nor sends a request per scrape:
//   - the finished count (leader): ONE multiRead of the done/ shard directories' stats
//     (client/shard-listing.ts childCounts: up to 1 024 a request, one for the default 256
//     shards, ~25 KB of reply), summed, at most every 10 s;
//   - the leader's epoch (follower): ONE getChildren of the election directory, its lowest
//     candidate's sequence, at most every 10 s.
import { childCounts } from '../client/shard-listing.js';
import type { Paths } from '../shared/protocol/paths.js';
import { candidateSeq, inLine } from '../shared/zk/election-candidates.js';
import type { ZkSession } from '../shared/zk/session.js';

/** How old a cached read may be before a scrape reads again. */
export const METRICS_READ_MAX_AGE_MS = 10_000;
/** How long a scrape waits for a read before it answers with the last value. */
const SCRAPE_WAIT_MS = 1000;

/** A value read from ZooKeeper when asked and older than maxAge: one read at a time, waited on for at most SCRAPE_WAIT_MS. */
export class CachedRead<T> {
  private value: T | null = null;
  private at = 0;
  private inflight?: Promise<void>;

  constructor(
    private readonly read: () => Promise<T | null>,
    private readonly maxAgeMs = METRICS_READ_MAX_AGE_MS,
  ) {}

  /** The value, read again first when due (null until a read succeeded). */
  async get(): Promise<T | null> {
    if (Date.now() - this.at >= this.maxAgeMs && !this.inflight) {
      this.inflight = this.read().then(
        (v) => {
          this.value = v;
          this.at = Date.now();
        },
        // Kept: the last value; tried again at the next scrape.
        () => undefined,
      ).finally(() => (this.inflight = undefined));
    }
    if (this.inflight) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.inflight, new Promise<void>((r) => (timer = setTimeout(r, SCRAPE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    return this.value;
  }
}

/** Not connected: a read now would wait out a request deadline; the cached value stays. */
function connected(session: ZkSession): void {
  if (session.state !== 'connected') throw new Error(`ZooKeeper session ${session.state}`);
}

/** Finished tasks: the done/ entries, counted from the shard directories' stats (the reader status and the dashboard use). */
export async function countFinished(session: ZkSession, paths: Paths): Promise<number> {
  connected(session);
  const counts = await childCounts(session, paths.shardNames.map((s) => paths.doneShard(s)));
  return counts.reduce((a, b) => a + b, 0);
}

/** The epoch of whoever leads `dir` now (the lowest candidate), or null when nobody does. */
export async function readLeaderEpoch(session: ZkSession, dir: string): Promise<number | null> {
  connected(session);
  const { children } = await session.getChildren(dir);
  const first = inLine(children)[0];
  return first === undefined ? null : candidateSeq(first);
}
