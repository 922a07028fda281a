// A round's pick for queue-index.ts's take(): the heads of several heaps (the unread entries
// and the classes the gate opens) merged through a heap of heads, at most a quota from each,
// so a pick costs O(log sources + log n) and a heap not added is never looked at.
import { Heap } from './heap.js';
import { byName, type Slot } from './queue-slot.js';

interface Source {
  heap: Heap<Slot>;
  head: Slot;
  /** How many more this round may take from it. */
  left: number;
}

export class HeadMerge {
  private readonly merge = new Heap<Source>((a, b) => byName(a.head, b.head), () => true);

  /** A heap this round takes from, at most `left` entries (an empty one or a zero quota: not at all). */
  add(heap: Heap<Slot>, left: number): void {
    const head = heap.peek();
    if (head && left > 0) this.merge.push({ heap, head, left });
  }

  /**
   * Up to `limit` slots in queue order, each given to `hand` as soon as it is popped (before its
   * heap's next head is read: `hand` moves it out, so a second copy of it there is skipped).
   * Returns how many.
   */
  take(limit: number, hand: (slot: Slot) => void): number {
    let n = 0;
    while (n < limit) {
      const src = this.merge.pop();
      if (!src) break;
      const top = src.heap.pop()!;
      hand(top);
      n++;
      const next = --src.left > 0 ? src.heap.peek() : undefined;
      if (next) {
        src.head = next;
        this.merge.push(src);
      }
    }
    return n;
  }
}
