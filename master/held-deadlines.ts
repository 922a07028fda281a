// The deadlines of what the mirror holds, in a heap (heap.ts, lazy removal): the earliest is
// a peek, the overdue ones a pop each, so a round where nothing is due costs O(1) however
// many assignments are held. An entry is live while its Held is still the mirror's and its
// deadline is the one it was pushed with (a deadline moved is pushed again).
import { Heap } from './heap.js';
import type { Held } from './leader-context.js';

interface Due {
  h: Held;
  at: number;
}

export class HeldDeadlines {
  private readonly heap: Heap<Due>;

  /** `holds(h)`: the mirror still holds this very Held. */
  constructor(private readonly holds: (h: Held) => boolean) {
    this.heap = new Heap<Due>(
      (a, b) => a.at < b.at,
      (d) => d.h.deadline === d.at && this.holds(d.h),
    );
  }

  /** A Held came into the mirror. */
  added(h: Held): void {
    if (h.deadline !== null) this.heap.push({ h, at: h.deadline });
  }
  /** A Held left the mirror (its entry is skipped, then swept). */
  removed(h: Held): void {
    if (h.deadline !== null) this.heap.left();
  }
  /** Moves a held deadline (a take-back postponed). */
  move(h: Held, at: number): void {
    this.removed(h);
    h.deadline = at;
    this.added(h);
  }

  earliest(): number | null {
    return this.heap.peek()?.at ?? null;
  }

  /** Takes out every Held whose deadline is at or before `now`; give back with `stillDue` those not dealt with. */
  due(now: number): Held[] {
    const out = new Set<Held>();
    for (let d = this.heap.peek(); d && d.at <= now; d = this.heap.peek()) out.add(this.heap.pop()!.h);
    return [...out];
  }
  /** A Held taken out by due() and still held, its deadline unchanged: due again at the next look. */
  stillDue(h: Held, now: number): void {
    if (h.deadline !== null && h.deadline <= now && this.holds(h)) this.heap.push({ h, at: h.deadline });
  }
}
