// The leader's in-memory view of queue/<shard>/*, indexed so that a round only ever touches
// entries some free worker can take, and a change costs O(log n).
//
// It is fed by the queue mirror (queue-mirror.ts): one tree watch's created/deleted events,
// and after every (re)arm of that watch a listing of every shard in the background. Entry
// names carry priority, not-before time, task id and the big-record marker, so ordering
// needs no record reads. One Map (name → slot) holds every entry: names are unique across
// shards (they hold the task id). A slot keeps the name and derives the rest from it. Each
// entry lives in exactly one place:
//   - `delayed`: not due yet (a retry in backoff), a heap by not-before: the earliest of the
//     whole waiting set arms the leader's wake-up timer;
//   - `unread`: due, its record not read yet, a heap in queue order;
//   - its class's heap: due, its record read once; a class is type + label set, both part of
//     the immutable spec, so an entry is classified once and for all;
//   - taken: handed out to the current round.
// Which classes a free worker accepts is the class gate's call (class-gate.ts). A round
// merges, through a heap of heads, `unread` and the classes the gate opens, taking from each
// class no more than its quota: a class no free worker can take is never touched.
//
// Listings and events race (a listing's reply can be older than an event diffed after it),
// so a reset is a generation: a listed or created entry is stamped with it, an entry deleted
// before its shard's one listing of the reset is applied is remembered (a tombstone: that
// listing must not bring it back), and once every shard is listed, older stamps are gone.
import { yieldToIo } from '../shared/util/coalescer.js';
import { Paths, type QueueEntry } from '../shared/protocol/paths.js';
import { Heap } from './heap.js';
import { QueueClasses, type TaskClass, type WaitingClassCount } from './queue-classes.js';
import { TopWaiting } from './top-waiting.js';
import { Slot, bandOf, byDue, byName, type PriorityBand } from './queue-slot.js';
import { HeadMerge } from './queue-merge.js';

export type { TaskClass, WaitingClassCount } from './queue-classes.js';

/** Entries handled between two yields to the event loop (listings, sweeps, due entries). */
const CHUNK = 1000;

export class QueueIndex {
  private readonly slots = new Map<string, Slot>();
  private readonly shardIndex: Map<string, number>;
  private readonly delayed: Heap<Slot>;
  private readonly unread: Heap<Slot>;
  private readonly classes = new QueueClasses<Slot>(() => {
    const ready: Heap<Slot> = new Heap(byName, (s) => s.home === ready);
    return ready;
  });
  /** Handed out by take() and not yet dropped or released. */
  private readonly taken = new Set<Slot>();
  /** Entries whose class is known. */
  private classified = 0;
  /** Entries per priority band (PRIORITY_BANDS order), kept with every add and remove. */
  private readonly bands = [0, 0, 0];
  /** The current reset's generation; `resetting` while its listings run. */
  private gen = 0;
  private resetting = false;
  /** A reset has finished once: every entry of the queue has been indexed at least once. */
  private listedOnce = false;
  /** Names deleted while the current reset runs, in shards not listed yet: an older listing must not bring them back. */
  private readonly tombstones = new Set<string>();
  /** Shards (by index) whose listing of the current reset has been applied. */
  private readonly listedShards = new Set<number>();
  /** Which classes a free worker takes (class-gate.ts). */
  readonly gate = this.classes.gate;
  /** Work done, for tests and logs: entries handed to rounds, names diffed from listings. */
  readonly stats = { taken: 0, listedNames: 0, created: 0, deleted: 0, swept: 0 };

  constructor(private readonly shardNames: readonly string[]) {
    this.shardIndex = new Map(shardNames.map((s, i) => [s, i]));
    const delayed: Heap<Slot> = new Heap(byDue, (s) => s.home === delayed);
    const unread: Heap<Slot> = new Heap(byName, (s) => s.home === unread);
    this.delayed = delayed;
    this.unread = unread;
  }

  get size(): number {
    return this.slots.size;
  }
  /** Entries whose record has not been read yet (their class is unknown). */
  get unclassified(): number {
    return this.slots.size - this.classified;
  }
  /** Entries by priority band (high ≥ 7000, normal 3000..6999, low < 3000). */
  byBand(): Record<PriorityBand, number> {
    return { high: this.bands[0]!, normal: this.bands[1]!, low: this.bands[2]! };
  }
  /** Classified entries no live worker can take, by why (metrics). */
  waitingByKind(): ReturnType<QueueClasses<Slot>['waitingByKind']> {
    return this.classes.waitingByKind();
  }
  /** Whether the whole queue has been listed once (before that, counts cover part of it). */
  get complete(): boolean {
    return this.listedOnce;
  }
  /** Whether an entry of this name is indexed; tombstones held (tests). */
  has(name: string): boolean {
    return this.slots.has(name);
  }
  get tombstoneCount(): number {
    return this.tombstones.size;
  }
  /** A reset's listings are running: what is indexed may lack entries, and queue order holds only among those indexed. */
  get listing(): boolean {
    return this.resetting;
  }

  // ---- fed by the mirror ----

  /** An entry was created (a tree-watch event). True when it is new to the index. */
  created(shard: string, name: string): boolean {
    this.stats.created++;
    this.tombstones.delete(name);
    const known = this.slots.get(name);
    if (known) {
      known.seen = this.gen;
      return false;
    }
    return this.add(shard, name);
  }

  /** An entry was deleted (a tree-watch event). */
  deleted(name: string, shard?: string): void {
    this.stats.deleted++;
    this.forget(name, shard === undefined ? undefined : this.shardIndex.get(shard));
  }

  /** A reset begins (the watch was (re)armed): every shard is listed again under a new generation. */
  beginReset(): number {
    this.gen++;
    this.resetting = true;
    this.tombstones.clear();
    this.listedShards.clear();
    return this.gen;
  }

  /** One shard's listing of reset `gen`: new names placed, known ones stamped. Yields between chunks. */
  async listed(shard: string, names: readonly string[], gen: number): Promise<void> {
    for (let i = 0; i < names.length; i++) {
      if (gen !== this.gen) return;
      const name = names[i]!;
      const known = this.slots.get(name);
      if (known) known.seen = gen;
      else if (!this.tombstones.has(name)) this.add(shard, name);
      this.stats.listedNames++;
      if ((i + 1) % CHUNK === 0) await yieldToIo();
    }
    const s = this.shardIndex.get(shard);
    if (gen === this.gen && s !== undefined) this.listedShards.add(s);
  }

  /** Every shard of reset `gen` is listed: what neither a listing nor an event of it saw is gone. Returns how many. */
  async finishReset(gen: number): Promise<number> {
    let n = 0;
    let removed = 0;
    for (const slot of this.slots.values()) {
      if (gen !== this.gen) return removed;
      if (slot.seen < gen) {
        this.remove(slot);
        removed++;
      }
      if (++n % CHUNK === 0) await yieldToIo();
    }
    if (gen !== this.gen) return removed;
    this.resetting = false;
    this.listedOnce = true;
    this.tombstones.clear();
    this.listedShards.clear();
    this.stats.swept += removed;
    return removed;
  }

  private add(shard: string, name: string): boolean {
    const s = this.shardIndex.get(shard);
    if (s === undefined || !Paths.isQueueEntryName(name)) return false;
    const slot = new Slot(name, s, this.gen);
    this.slots.set(name, slot);
    this.bands[bandOf(name)]!++;
    this.place(slot, Date.now());
    return true;
  }

  /** Forgets an entry by name (gone from ZooKeeper); remembered while its shard's listing is to come. */
  private forget(name: string, shard?: number): void {
    const slot = this.slots.get(name);
    const s = slot?.shard ?? shard;
    if (this.resetting && (s === undefined || !this.listedShards.has(s))) this.tombstones.add(name);
    if (slot) this.remove(slot);
  }

  /** Puts a slot where it belongs now: waiting for its time, unread, or in its class. */
  private place(slot: Slot, now: number): void {
    const heap = Paths.queueEntryNotBefore(slot.name) > now ? this.delayed : slot.cls ? slot.cls.ready : this.unread;
    slot.home = heap;
    heap.push(slot);
  }

  private remove(slot: Slot): void {
    slot.home?.left();
    slot.home = null;
    this.taken.delete(slot);
    this.slots.delete(slot.name);
    this.bands[bandOf(slot.name)]!--;
    if (!slot.cls) return;
    this.classified--;
    this.classes.leave(slot.cls);
  }

  private entryOf(slot: Slot): QueueEntry {
    return Paths.parseQueueEntry(this.shardNames[slot.shard]!, slot.name)!;
  }

  // ---- used by rounds ----

  /** Moves entries whose not-before has passed out of `delayed`, yielding between chunks. */
  async promoteDue(now: number): Promise<void> {
    let n = 0;
    for (let s = this.delayed.peek(); s && Paths.queueEntryNotBefore(s.name) <= now; s = this.delayed.peek()) {
      this.delayed.pop();
      this.place(s, now);
      if (++n % CHUNK === 0) await yieldToIo();
    }
  }

  /** The earliest not-before of every entry not due yet (for the wake-up timer), or null. */
  nextDueAt(): number | null {
    const s = this.delayed.peek();
    return s ? Paths.queueEntryNotBefore(s.name) : null;
  }

  /**
   * Up to `limit` due entries in queue order, from the unread ones and from the classes the
   * gate opens, at most a class's quota from each. The heads are merged through a heap: a pick
   * costs O(log sources + log n), and a class nobody free takes is never looked at. They stay
   * taken until dropped, released, or the next resetTaken().
   */
  take(limit: number): QueueEntry[] {
    const merge = new HeadMerge(); // queue-merge.ts
    // All paused: nothing at all (the round ends before it asks, too).
    if (!this.gate.pausedAll) merge.add(this.unread, Infinity);
    for (const c of this.gate.openClasses()) merge.add(c.ready, this.gate.quota(c));
    const out: QueueEntry[] = [];
    merge.take(limit, (top) => {
      top.home = null;
      this.taken.add(top);
      out.push(this.entryOf(top));
    });
    this.stats.taken += out.length;
    return out;
  }

  /**
   * Classes no live worker can take or of a paused type (reason `paused`), biggest first (at
   * most `max`), and how many in all: both streamed into one bounded top-k (top-waiting.ts).
   */
  waiting(max: number): { classes: WaitingClassCount[]; total: number; tasks: number } {
    const top = new TopWaiting(max);
    for (const { cls, reason } of this.gate.waiting()) top.add({ type: cls.type, labels: cls.labels, count: cls.members, reason });
    for (const c of this.gate.pausedClasses()) top.add({ type: c.type, labels: c.labels, count: c.members, reason: 'paused' });
    return { classes: top.classes, total: top.total, tasks: top.tasks };
  }

  /** Records what an entry's task asks of a worker, once its record has been read. */
  classify(e: QueueEntry, c: TaskClass): void {
    const slot = this.slots.get(e.name);
    if (!slot || slot.cls) return;
    slot.cls = this.classes.join(c);
    this.classified++;
  }

  /** Gives an entry back (its assignment did not happen). */
  release(e: QueueEntry): void {
    const slot = this.slots.get(e.name);
    if (!slot || !this.taken.delete(slot)) return;
    this.place(slot, Date.now());
  }

  /**
   * Gives every hand-out back. Rounds run one at a time, so a new round starts with none;
   * this also covers a round that ended in an error between take() and its multi.
   */
  resetTaken(): void {
    const now = Date.now();
    for (const slot of this.taken) this.place(slot, now);
    this.taken.clear();
  }

  /** Forgets an entry that is gone from ZooKeeper (assigned or removed by us). */
  drop(e: QueueEntry): void {
    this.forget(e.name, this.shardIndex.get(e.shard));
  }
}
