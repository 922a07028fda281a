// The leader's in-memory view of queue/<shard>/*, indexed so that a round only ever touches
// entries some free worker can take.
//
// Shards are re-read when a child watch says they changed (shard-listings.ts: one listing
// per shard at a time, never a full scan). Entry names carry priority, not-before time and
// task id, so ordering needs no record reads. Each entry lives in exactly one place:
//   - `delayed`: not due yet (a retry in backoff), a heap by not-before: the earliest of the
//     whole waiting set arms the leader's wake-up timer;
//   - `unread`: due, its record not read yet, a heap in queue order;
//   - its class's heap: due, its record read once; a class is type + label set, both part of
//     the immutable spec, so an entry is classified once and for all;
//   - taken: handed out to the current round.
// Which classes a free worker accepts is the class gate's call (class-gate.ts: decided per
// worker profile, cached per class). A round merges, through a heap of heads, `unread` and
// the classes the gate opens, taking from each class no more than its quota (the free slots
// of the workers that accept it): a class no free worker can take is never touched.
import { yieldToIo } from '../shared/util/coalescer.js';
import { Paths, type QueueEntry } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { classKey } from './assignment-policy.js';
import { ClassGate, type GateClass } from './class-gate.js';
import { Heap } from './heap.js';
import { ShardListings } from './shard-listings.js';

/** What a task asks of a worker: its type and labels. */
export interface TaskClass {
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
}

interface ClassQueue extends TaskClass, GateClass {
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

function byName(a: Slot, b: Slot): boolean {
  // Names sort by priority complement, then not-before: plain string order is the queue order.
  return a.entry.name < b.entry.name;
}

/** One class that no live worker can take: what status shows. */
export interface WaitingClassCount extends TaskClass {
  count: number;
  reason: string;
}

interface Source {
  heap: Heap<Slot>;
  head: Slot;
  /** How many more this round may take from it. */
  left: number;
}

export class QueueIndex {
  /** shard → entry name → slot. */
  private readonly shards = new Map<string, Map<string, Slot>>();
  private readonly delayed: Heap<Slot>;
  private readonly unread: Heap<Slot>;
  private readonly classes = new Map<string, ClassQueue>();
  /** Handed out by take() and not yet dropped or released. */
  private readonly taken = new Set<Slot>();
  private total = 0;
  /** Entries whose class is known. */
  private classified = 0;
  /** Shards of the entries this round handed out or dropped: re-listed if the round fails. */
  private readonly touched = new Set<string>();
  private readonly listings: ShardListings;
  readonly gate = new ClassGate<ClassQueue>(yieldToIo);

  constructor(session: ZkSession, paths: Paths, onChange: () => void) {
    this.listings = new ShardListings(session, paths, onChange, (shard, children) => this.diff(shard, children));
    const delayed: Heap<Slot> = new Heap(
      (a, b) => a.entry.notBefore < b.entry.notBefore || (a.entry.notBefore === b.entry.notBefore && a.entry.name < b.entry.name),
      (s) => s.home === delayed,
    );
    const unread: Heap<Slot> = new Heap(byName, (s) => s.home === unread);
    this.delayed = delayed;
    this.unread = unread;
  }

  /** Marks every shard for re-reading. */
  invalidateAll(): void {
    this.listings.invalidateAll();
  }

  /** Marks one shard for re-reading. */
  invalidate(shard: string): void {
    this.listings.invalidate(shard);
  }

  /** After a failed round: re-reads the shards it touched (watches cover the rest within a session). */
  invalidateTouched(): void {
    for (const s of this.touched) this.listings.invalidate(s);
    this.touched.clear();
  }

  get size(): number {
    return this.total;
  }
  /** Entries whose record has not been read yet (their class is unknown). */
  get unclassified(): number {
    return this.total - this.classified;
  }

  /** Re-reads the dirty shards (shard-listings.ts), re-arming their watches; yields while diffing big listings. */
  refresh(): Promise<void> {
    return this.listings.refresh();
  }

  /** Applies one listing of a shard: new names placed, vanished ones removed. */
  private async diff(shard: string, children: string[]): Promise<void> {
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
    if (!slot.cls) return;
    this.classified--;
    if (--slot.cls.members === 0) {
      this.classes.delete(slot.cls.key);
      this.gate.remove(slot.cls);
    }
  }

  private slotOf(e: QueueEntry): Slot | undefined {
    return this.shards.get(e.shard)?.get(e.name);
  }

  /** Moves entries whose not-before has passed out of `delayed`, yielding between chunks. */
  async promoteDue(now: number): Promise<void> {
    let n = 0;
    for (let s = this.delayed.peek(); s && s.entry.notBefore <= now; s = this.delayed.peek()) {
      this.delayed.pop();
      this.place(s, now);
      if (++n % CHUNK === 0) await yieldToIo();
    }
  }

  /** The earliest not-before of every entry not due yet (for the wake-up timer), or null. */
  nextDueAt(): number | null {
    return this.delayed.peek()?.entry.notBefore ?? null;
  }

  /**
   * Up to `limit` due entries in queue order, from the unread ones and from the classes the
   * gate opens, at most a class's quota from each. The heads are merged through a heap: a pick
   * costs O(log sources), and a class nobody free takes is never looked at. They stay taken
   * until dropped, released, or the next resetTaken().
   */
  take(limit: number): QueueEntry[] {
    const merge = new Heap<Source>((a, b) => byName(a.head, b.head), () => true);
    const add = (heap: Heap<Slot>, left: number) => {
      const head = heap.peek();
      if (head && left > 0) merge.push({ heap, head, left });
    };
    add(this.unread, Infinity);
    for (const c of this.gate.openClasses()) add(c.ready, this.gate.quota(c));
    const out: QueueEntry[] = [];
    while (out.length < limit) {
      const src = merge.pop();
      if (!src) break;
      const top = src.heap.pop()!;
      top.home = null;
      this.taken.add(top);
      this.touched.add(top.entry.shard);
      out.push(top.entry);
      const next = --src.left > 0 ? src.heap.peek() : undefined;
      if (next) {
        src.head = next;
        merge.push(src);
      }
    }
    return out;
  }

  /** Classes no live worker can take, biggest first (at most `max`: a bounded selection, no sort of them all), and how many in all. */
  waiting(max: number): { classes: WaitingClassCount[]; total: number; tasks: number } {
    const top: WaitingClassCount[] = [];
    const before = (a: WaitingClassCount, b: WaitingClassCount) => a.count > b.count || (a.count === b.count && a.type < b.type);
    let total = 0;
    let tasks = 0;
    for (const { cls, reason } of this.gate.waiting()) {
      total++;
      tasks += cls.members;
      const w = { type: cls.type, labels: cls.labels, count: cls.members, reason };
      if (top.length === max && !before(w, top[max - 1]!)) continue;
      let i = Math.min(top.length, max - 1);
      while (i > 0 && before(w, top[i - 1]!)) i--;
      top.splice(i, 0, w);
      if (top.length > max) top.pop();
    }
    return { classes: top, total, tasks };
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
      this.gate.add(q);
    }
    q.members++;
    this.classified++;
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
    this.touched.clear();
    const now = Date.now();
    for (const slot of this.taken) if (!slot.gone) this.place(slot, now);
    this.taken.clear();
  }

  /** Forgets an entry that is gone from ZooKeeper (assigned or removed by us). */
  drop(e: QueueEntry): void {
    const known = this.shards.get(e.shard);
    const slot = known?.get(e.name);
    this.touched.add(e.shard);
    if (known && slot) this.remove(known, slot);
  }
}
