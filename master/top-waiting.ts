// The biggest waiting classes for leader-status, kept as they stream by: a bounded insertion
// into at most `max` (O(classes × max) and no array of them all, nor a sort of one), with how
// many classes and tasks went by in all. Biggest first; ties by type.
import type { WaitingClassCount } from './queue-classes.js';

const before = (a: WaitingClassCount, b: WaitingClassCount) => a.count > b.count || (a.count === b.count && a.type < b.type);

export class TopWaiting {
  readonly classes: WaitingClassCount[] = [];
  total = 0;
  tasks = 0;

  constructor(private readonly max: number) {}

  add(w: WaitingClassCount): void {
    this.total++;
    this.tasks += w.count;
    const top = this.classes;
    const max = this.max;
    if (max <= 0 || (top.length === max && !before(w, top[max - 1]!))) return;
    let i = Math.min(top.length, max - 1);
    while (i > 0 && before(w, top[i - 1]!)) i--;
    top.splice(i, 0, w);
    if (top.length > max) top.pop();
  }
}
