// The classes of the queue index's entries: a class is a task type + label set (immutable
// spec, so an entry is classified once), with a heap of its due entries in queue order and a
// count of its entries anywhere. The class gate (class-gate.ts) decides which classes a free
// worker takes; this registry adds a class to it when its first entry is classified and takes
// it out when its last one goes, and says which classes nobody can take (for leader-status).
import { yieldToIo } from '../shared/util/coalescer.js';
import { classKey, type WaitingKind } from './assignment-policy.js';
import { ClassGate, type GateClass } from './class-gate.js';
import type { Heap } from './heap.js';

/** What a task asks of a worker: its type and labels. */
export interface TaskClass {
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ClassQueue<T> extends TaskClass, GateClass {
  readonly key: string;
  /** Its due entries, in queue order. */
  readonly ready: Heap<T>;
  /** Entries of this class still known (any place). */
  members: number;
}

/** One class that no live worker can take: what status shows. */
export interface WaitingClassCount extends TaskClass {
  count: number;
  reason: string;
}

export class QueueClasses<T> {
  readonly gate = new ClassGate<ClassQueue<T>>(yieldToIo);
  private readonly byKey = new Map<string, ClassQueue<T>>();

  /** `newHeap`: an empty heap in queue order for a new class. */
  constructor(private readonly newHeap: () => Heap<T>) {}

  /** The class of `c`, counting one more entry in it (made, and shown to the gate, if new). */
  join(c: TaskClass): ClassQueue<T> {
    const key = classKey(c.type, c.labels);
    let q = this.byKey.get(key);
    if (!q) {
      this.byKey.set(key, (q = { key, type: c.type, labels: { ...c.labels }, ready: this.newHeap(), members: 0 }));
      this.gate.add(q);
    }
    q.members++;
    return q;
  }

  /** One entry of `q` is gone; the class goes with its last one. */
  leave(q: ClassQueue<T>): void {
    if (--q.members > 0) return;
    this.byKey.delete(q.key);
    this.gate.remove(q);
  }

  /** Tasks no live worker can take, by why, and those paused (for metrics): O(classes waiting; all classes while a pause holds), nothing per task. */
  waitingByKind(): Record<WaitingKind, number> {
    const out: Record<WaitingKind, number> = { 'no-worker': 0, labels: 0, type: 0, paused: 0 };
    for (const { cls, kind } of this.gate.waiting()) out[kind] += cls.members;
    // Paused classes are not in waiting() (placeable or not, a pause holds them).
    for (const cls of this.gate.pausedClasses()) out.paused += cls.members;
    return out;
  }
}
