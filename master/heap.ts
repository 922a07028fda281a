// A binary min-heap with lazy removal: an item that left (its owner says it is no longer
// here) is skipped when it reaches the top and swept out when stale items outnumber live
// ones, so removing from the middle costs O(1) and nothing is ever scanned per pick.
export class Heap<T> {
  private items: T[] = [];
  private stale = 0;

  constructor(
    private readonly less: (a: T, b: T) => boolean,
    /** Whether an item pushed here is still in this heap. */
    private readonly here: (item: T) => boolean,
  ) {}

  push(item: T): void {
    const a = this.items;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  /** The least live item, or undefined. */
  peek(): T | undefined {
    while (this.items.length > 0 && !this.here(this.items[0]!)) {
      this.removeTop();
      this.stale = Math.max(0, this.stale - 1);
    }
    return this.items[0];
  }

  pop(): T | undefined {
    const top = this.peek();
    if (top !== undefined) this.removeTop();
    return top;
  }

  /** Tells the heap that one of its items left (it will be skipped, then swept). */
  left(): void {
    if (++this.stale > 64 && this.stale * 2 > this.items.length) this.sweep();
  }

  private removeTop(): void {
    const last = this.items.pop()!;
    if (this.items.length === 0) return;
    this.items[0] = last;
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.less(a[l]!, a[m]!)) m = l;
      if (r < a.length && this.less(a[r]!, a[m]!)) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m]!, a[i]!];
      i = m;
    }
  }

  /** Drops the stale items and restores heap order bottom-up: O(n). */
  private sweep(): void {
    this.items = this.items.filter((x) => this.here(x));
    this.stale = 0;
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
}
