// The leader's in-memory view of queue/<shard>/*, indexed so that a round only ever touches
// entries some free worker can take.
//
// Shards are re-read when a child watch says they changed (one getChildren per shard per
// change burst, never a full scan). Entry names carry priority, not-before time and task id,
// so ordering needs no record reads. Each entry lives in exactly one place:
//   - `delayed`: not due yet (a retry in backoff), a heap by not-before: the earliest of the
//     whole waiting set arms the leader's wake-up timer;
//   - `unread`: due, its record not read yet, a heap in queue order;
//   - its class's heap: due, its record read once; a class is type + label set, both part of
//     the immutable spec, so an entry is classified once and for all;
//   - taken: handed out to the current round.
// A round merges the heads of `unread` and of the classes a free worker accepts: a class no
// free worker can take costs O(1) to pass over, however many entries it holds.
import { Paths, type QueueEntry } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import { Heap } from './heap.js';

/** What a task asks of a worker: its type and labels. */
export interface TaskClass {
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
}

interface ClassQueue extends TaskClass {
  readonly key: string;
  readonly ready: Heap<Slot>;
  /** Entries of this class still known (any place). */
  members: number;
}

interface Slot {
  readonly entry: QueueEntry;
  cls: ClassQueue | null;
  /** The heap it is in; null while taken or once gone. */
  home: Heap<Slot> | null;
  gone: boolean;
}

/** Names handled between two yields to the event loop while diffing a shard listing. */
const CHUNK = 1000;
const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

function byName(a: Slot, b: Slot): boolean {
  // Names sort by priority complement, then not-before: plain string order is the queue order.
  return a.entry.name < b.entry.name;
}

function classKey(type: string, labels: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(labels).sort().map((k) => [k, labels[k]]);
  return `${type}\u0000${JSON.stringify(sorted)}`;
}

export class QueueIndex {
  /** shard → entry name → slot. */
  private readonly shards = new Map<string, Map<string, Slot>>();
  /** Shards whose watch fired (or never read): re-read before the next round. */
  private readonly dirty = new Set<string>();
  private readonly delayed: Heap<Slot>;
  private readonly unread: Heap<Slot>;
  private readonly classes = new Map<string, ClassQueue>();
  /** Handed out by take() and not yet dropped or released. */
  private readonly taken = new Set<Slot>();
  private total = 0;
  private readonly watchers: StableWatchers;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly onChange: () => void,
  ) {
    this.watchers = new StableWatchers(session);
    for (const s of this.paths.shardNames) this.dirty.add(s);
    const delayed: Heap<Slot> = new Heap(
      (a, b) => a.entry.notBefore < b.entry.notBefore || (a.entry.notBefore === b.entry.notBefore && a.entry.name < b.entry.name),
      (s) => s.home === delayed,
    );
    const unread: Heap<Slot> = new Heap(byName, (s) => s.home === unread);
    this.delayed = delayed;
    this.unread = unread;
  }

  /** Marks every shard for re-reading (after a new session: watches are gone). */
  invalidateAll(): void {
    for (const s of this.paths.shardNames) this.dirty.add(s);
  }

  /** Marks one shard for re-reading. */
  invalidate(shard: string): void {
    this.dirty.add(shard);
  }

  get size(): number {
    return this.total;
  }

  /** Re-reads the dirty shards (pipelined), re-arming their watches; yields while diffing big listings. */
  async refresh(): Promise<void> {
    if (this.dirty.size === 0) return;
    const shards = [...this.dirty];
    this.dirty.clear();
    try {
      await Promise.all(shards.map((shard) => this.refreshShard(shard)));
    } catch (err) {
      for (const s of shards) this.dirty.add(s);
      throw err;
    }
  }

  private async refreshShard(shard: string): Promise<void> {
    const watcher = this.watchers.get(shard, (generation) => () => {
      if (generation !== this.session.generation) return;
      this.dirty.add(shard);
      this.onChange();
    });
    const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.queueShard(shard), watcher));
    let known = this.shards.get(shard);
    if (!known) this.shards.set(shard, (known = new Map()));
    const listed = new Set<string>();
    const now = Date.now();
    let n = 0;
    for (const name of children) {
      listed.add(name);
      if (!known.has(name)) {
        const e = Paths.parseQueueEntry(shard, name);
        if (e) {
          const slot: Slot = { entry: e, cls: null, home: null, gone: false };
          known.set(name, slot);
          this.total++;
          this.place(slot, now);
        }
      }
      if (++n % CHUNK === 0) await yieldToIo();
    }
    for (const [name, slot] of known) {
      if (!listed.has(name)) this.remove(known, slot);
      if (++n % CHUNK === 0) await yieldToIo();
    }
  }

  /** Puts a slot where it belongs now: waiting for its time, unread, or in its class. */
  private place(slot: Slot, now: number): void {
    const heap = slot.entry.notBefore > now ? this.delayed : slot.cls ? slot.cls.ready : this.unread;
    slot.home = heap;
    heap.push(slot);
  }

  private remove(known: Map<string, Slot>, slot: Slot): void {
    if (slot.gone) return;
    slot.gone = true;
    slot.home?.left();
    slot.home = null;
    this.taken.delete(slot);
    known.delete(slot.entry.name);
    this.total--;
    if (slot.cls && --slot.cls.members === 0) this.classes.delete(slot.cls.key);
  }

  private slotOf(e: QueueEntry): Slot | undefined {
    return this.shards.get(e.shard)?.get(e.name);
  }

  /** Moves entries whose not-before has passed out of `delayed`. */
  promoteDue(now: number): void {
    for (let s = this.delayed.peek(); s && s.entry.notBefore <= now; s = this.delayed.peek()) {
      this.delayed.pop();
      this.place(s, now);
    }
  }

  /** The earliest not-before of every entry not due yet (for the wake-up timer), or null. */
  nextDueAt(): number | null {
    return this.delayed.peek()?.entry.notBefore ?? null;
  }

  /**
   * Up to `limit` due entries in queue order, from the unread ones and from the classes
   * `accepts` says a free worker takes. They stay taken until dropped, released, or the
   * next resetTaken().
   */
  take(accepts: (c: TaskClass) => boolean, limit: number): QueueEntry[] {
    const heaps: Array<Heap<Slot>> = [this.unread];
    for (const c of this.classes.values()) if (c.ready.peek() && accepts(c)) heaps.push(c.ready);
    const out: QueueEntry[] = [];
    while (out.length < limit) {
      let best: Heap<Slot> | undefined;
      let top: Slot | undefined;
      for (const h of heaps) {
        const s = h.peek();
        if (s && (!top || byName(s, top))) [best, top] = [h, s];
      }
      if (!best || !top) break;
      best.pop();
      top.home = null;
      this.taken.add(top);
      out.push(top.entry);
    }
    return out;
  }

  /** Records what an entry's task asks of a worker, once its record has been read. */
  classify(e: QueueEntry, c: TaskClass): void {
    const slot = this.slotOf(e);
    if (!slot || slot.cls) return;
    const key = classKey(c.type, c.labels);
    let q = this.classes.get(key);
    if (!q) {
      const ready: Heap<Slot> = new Heap(byName, (s) => s.home === ready);
      this.classes.set(key, (q = { key, type: c.type, labels: { ...c.labels }, ready, members: 0 }));
    }
    q.members++;
    slot.cls = q;
  }

  /** Gives an entry back (its assignment did not happen). */
  release(e: QueueEntry): void {
    const slot = this.slotOf(e);
    if (!slot || !this.taken.delete(slot)) return;
    this.place(slot, Date.now());
  }

  /**
   * Gives every hand-out back. Rounds run one at a time, so a new round starts with none;
   * this also covers a round that ended in an error between take() and its multi.
   */
  resetTaken(): void {
    const now = Date.now();
    for (const slot of this.taken) if (!slot.gone) this.place(slot, now);
    this.taken.clear();
  }

  /** Forgets an entry that is gone from ZooKeeper (assigned or removed by us). */
  drop(e: QueueEntry): void {
    const known = this.shards.get(e.shard);
    const slot = known?.get(e.name);
    if (known && slot) this.remove(known, slot);
  }
}
