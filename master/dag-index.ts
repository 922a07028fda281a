// The leader's in-memory picture of waiting dependent tasks (issue 15), rebuilt from ZooKeeper
// at every takeover: parent id → the waiting children that still count on it, and per child
// how many of its parents have not ended. A parent's end costs one pass over its own children
// (a decrement each), never a re-read of any child's parent list; an id no child waits on costs
// one Map lookup.

/** A child's rule for a parent that failed or was cancelled (its record's dependsOn.onParentFailure). */
export type OnParentFailure = 'fail' | 'run';

/** How a parent ended, as far as its dependents care; 'gone': its record is missing (purged, or never written). */
export type ParentEnd = 'succeeded' | 'failed' | 'cancelled' | 'gone';

/** What is to be written for a child: queue it, or fail it (dependency-failed) for `parent`. */
export type Decision = { kind: 'release' } | { kind: 'fail'; parent: { id: string; state: ParentEnd } };

interface Waiting {
  id: string;
  remaining: number;
  onParentFailure: OnParentFailure;
  /** False once decided or dropped: the lists of its other parents still hold it and skip it (no list is scanned to remove it). */
  alive: boolean;
}

export class DagIndex {
  private readonly byParent = new Map<string, Waiting[]>();
  private readonly children = new Map<string, Waiting>();

  /** Waiting children registered. */
  get size(): number {
    return this.children.size;
  }
  /** Distinct parents that have not ended (as far as we know). */
  get parents(): number {
    return this.byParent.size;
  }
  has(childId: string): boolean {
    return this.children.has(childId);
  }
  /** Whether some registered child waits on this id (its done event matters). */
  pending(parentId: string): boolean {
    return this.byParent.has(parentId);
  }
  pendingParents(): string[] {
    return [...this.byParent.keys()];
  }
  /** The registered children's ids. */
  childIds(): IterableIterator<string> {
    return this.children.keys();
  }
  /** Forgets parents no live child waits on any more (after a sweep: their done events need no read). */
  prune(): void {
    for (const [p, list] of this.byParent) if (!list.some((w) => w.alive)) this.byParent.delete(p);
  }

  /**
   * Registers a waiting child. A parent already pending is joined without asking; for any
   * other, `endOf` says how it ended (null: it has not). Returns the decision when one can be
   * made at once (every parent ended, or one failed with onParentFailure 'fail'), else null.
   * A child already registered: null (a relist or a repeated event).
   */
  register(childId: string, onParentFailure: OnParentFailure, parentIds: readonly string[], endOf: (id: string) => ParentEnd | null): Decision | null {
    if (this.children.has(childId)) return null;
    const w: Waiting = { id: childId, remaining: 0, onParentFailure, alive: true };
    const joined: string[] = [];
    for (const p of parentIds) {
      const list = this.byParent.get(p);
      if (list) {
        joined.push(p);
        continue;
      }
      const end = endOf(p);
      if (end === null) {
        joined.push(p);
        continue;
      }
      if (end !== 'succeeded' && onParentFailure === 'fail') return { kind: 'fail', parent: { id: p, state: end } };
    }
    if (joined.length === 0) return { kind: 'release' };
    // Lists are touched only once the child is known to wait (a failure above leaves none behind).
    for (const p of joined) {
      const list = this.byParent.get(p);
      if (list) list.push(w);
      else this.byParent.set(p, [w]);
    }
    w.remaining = joined.length;
    this.children.set(childId, w);
    return null;
  }

  /** A parent ended: the decisions it brings, child by child (its children leave the index). */
  ended(parentId: string, end: ParentEnd): Array<[string, Decision]> {
    const list = this.byParent.get(parentId);
    if (!list) return [];
    this.byParent.delete(parentId);
    const out: Array<[string, Decision]> = [];
    for (const w of list) {
      if (!w.alive) continue;
      if (end === 'succeeded' || w.onParentFailure === 'run') {
        if (--w.remaining > 0) continue;
        this.drop(w.id);
        out.push([w.id, { kind: 'release' }]);
      } else {
        this.drop(w.id);
        out.push([w.id, { kind: 'fail', parent: { id: parentId, state: end } }]);
      }
    }
    return out;
  }

  /** Forgets a child (decided, cancelled, gone). Parents no live child waits on stay until they end or a rebuild. */
  drop(childId: string): void {
    const w = this.children.get(childId);
    if (!w) return;
    w.alive = false;
    this.children.delete(childId);
  }

  clear(): void {
    this.byParent.clear();
    this.children.clear();
  }
}
