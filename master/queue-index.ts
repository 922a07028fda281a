// The leader's in-memory view of queue/<shard>/*: re-read shard by shard when a child watch
// says it changed, so a busy queue costs one getChildren per shard per change burst, never a
// full scan. Entry names carry priority, not-before time and task id, so ordering needs no
// record reads.
import { Paths, type QueueEntry } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';

function order(a: QueueEntry, b: QueueEntry): number {
  // Names sort by priority complement, then not-before: plain string order is the queue order.
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export class QueueIndex {
  /** shard → entries in queue order. */
  private readonly shards = new Map<string, QueueEntry[]>();
  /** Shards whose watch fired (or never read): re-read before the next pick. */
  private readonly dirty = new Set<string>();
  /** Entries handed out by pick() and not yet seen gone: never handed out twice. */
  private readonly taken = new Set<string>();
  /** shard → entry name → labels, for entries whose record was read (part of the immutable spec). */
  private readonly labels = new Map<string, Map<string, Record<string, string>>>();

  private readonly watchers: StableWatchers;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly onChange: () => void,
  ) {
    this.watchers = new StableWatchers(session);
    for (const s of this.paths.shardNames) this.dirty.add(s);
  }

  /** Marks every shard for re-reading (after a new session: watches are gone). */
  invalidateAll(): void {
    for (const s of this.paths.shardNames) this.dirty.add(s);
  }

  get size(): number {
    let n = 0;
    for (const list of this.shards.values()) n += list.length;
    return n;
  }

  /** Re-reads the dirty shards (pipelined), re-arming their watches. */
  async refresh(): Promise<void> {
    if (this.dirty.size === 0) return;
    const shards = [...this.dirty];
    this.dirty.clear();
    try {
      await Promise.all(
        shards.map(async (shard) => {
          const watcher = this.watchers.get(shard, (generation) => () => {
            if (generation !== this.session.generation) return;
            this.dirty.add(shard);
            this.onChange();
          });
          const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.queueShard(shard), watcher));
          const entries: QueueEntry[] = [];
          for (const name of children) {
            const e = Paths.parseQueueEntry(shard, name);
            if (e) entries.push(e);
          }
          entries.sort(order);
          const names = new Set(children);
          for (const t of this.taken) if (t.startsWith(`${shard}/`) && !names.has(t.slice(shard.length + 1))) this.taken.delete(t);
          const known = this.labels.get(shard);
          if (known) for (const n of known.keys()) if (!names.has(n)) known.delete(n);
          this.shards.set(shard, entries);
        }),
      );
    } catch (err) {
      for (const s of shards) this.dirty.add(s);
      throw err;
    }
  }

  /**
   * Up to `limit` entries due now, in queue order, not handed out before. Also returns the
   * earliest not-before among entries still waiting (to set a timer), or null.
   */
  pick(limit: number, now: number): { entries: QueueEntry[]; nextDueAt: number | null } {
    let nextDueAt: number | null = null;
    const candidates: QueueEntry[] = [];
    if (limit <= 0) return { entries: [], nextDueAt };
    for (const [shard, list] of this.shards) {
      let got = 0;
      for (const e of list) {
        if (this.taken.has(`${shard}/${e.name}`)) continue;
        if (e.notBefore > now) {
          if (nextDueAt === null || e.notBefore < nextDueAt) nextDueAt = e.notBefore;
          continue;
        }
        candidates.push(e);
        if (++got >= limit) break;
      }
    }
    candidates.sort(order);
    const entries = candidates.slice(0, limit);
    for (const e of entries) this.taken.add(`${e.shard}/${e.name}`);
    return { entries, nextDueAt };
  }

  /**
   * Forgets every hand-out. Rounds run one at a time and end with their entries dropped
   * (assigned) or released, so a new round starts with none; this also covers a round that
   * ended in an error between pick() and its multi.
   */
  resetTaken(): void {
    this.taken.clear();
  }

  /** What the entry's record asks of a worker, once it has been read; else undefined. */
  labelsOf(e: QueueEntry): Record<string, string> | undefined {
    return this.labels.get(e.shard)?.get(e.name);
  }

  rememberLabels(e: QueueEntry, labels: Record<string, string>): void {
    let known = this.labels.get(e.shard);
    if (!known) this.labels.set(e.shard, (known = new Map()));
    known.set(e.name, labels);
  }

  /** Gives an entry back (its assignment did not happen). */
  release(e: QueueEntry): void {
    this.taken.delete(`${e.shard}/${e.name}`);
  }

  /** Forgets an entry that is gone from ZooKeeper (assigned or removed by us). */
  drop(e: QueueEntry): void {
    const list = this.shards.get(e.shard);
    if (list) {
      const i = list.findIndex((x) => x.name === e.name);
      if (i >= 0) list.splice(i, 1);
    }
    this.taken.delete(`${e.shard}/${e.name}`);
    this.labels.get(e.shard)?.delete(e.name);
  }

  /** Marks one shard for re-reading. */
  invalidate(shard: string): void {
    this.dirty.add(shard);
  }
}
