// One registration of new waiting children for the dependency releaser (dag-release.ts): their
// parent lists read (as many children as MAX_PARENT_IDS parent ids allow), the records of the
// parents not already pending read and reduced to how they ended, then each child joins the
// index (or is decided at once).
//
// The race that matters: a parent may finish after a registration read its record but before
// the child joins its list; its done event then finds nobody waiting on it. So while a
// registration's reads are in flight every done id is remembered (`recent`), and once the
// children are registered those that now have waiters are read again. Events lost in a reset
// of the done/ watch (a reconnect, a ZOOKEEPER-4466 reassert) during a registration cannot be
// replayed: every pending parent of the children it registered is then read again.
//
// A child whose parent list cannot be read (not JSON, a ZooKeeper error other than NONODE) is
// left waiting with one error line (stats.unreadable; read again at the next listing).
import type { Logger } from '../shared/log.js';
import type { ParentsNode } from '../shared/protocol/dag-ops.js';
import type { DagPaths } from '../shared/protocol/dag-paths.js';
import type { DagIndex } from './dag-index.js';
import { parentEnd, readParentLists, readParentNodes, readRecords } from './dag-reads.js';
import type { DecayingSizes } from './dag-sizes.js';
import type { DagWriter } from './dag-writer.js';
import type { LeaderContext } from './leader-context.js';

/** Parent ids (summed over its children) one registration reads at most: what it holds stays ~10 000 states. */
const MAX_PARENT_IDS = 10_000;

/** The releaser's queues a registration feeds. */
export interface Queues {
  /** Children to register: those left for the next pass go back here. */
  newChildren: Set<string>;
  /** Parents to read (ended, or maybe). */
  endedParents: Set<string>;
  decided: DagWriter;
  alive: () => boolean;
}

export class DagRegistrar {
  /** Every done id seen while a registration's reads are in flight; null otherwise. */
  private recent: Set<string> | null = null;
  /** The done/ watch was reset while a registration was in flight (its lost events cannot be replayed). */
  private resetInFlight = false;

  constructor(
    private readonly ctx: LeaderContext,
    private readonly dag: DagPaths,
    private readonly log: Logger,
    private readonly stats: { unreadable: number },
    private readonly index: DagIndex,
    private readonly parentSizes: DecayingSizes,
  ) {}

  noteDone(id: string): void {
    this.recent?.add(id);
  }
  noteReset(): void {
    if (this.recent) this.resetInFlight = true;
  }

  async register(kids: readonly string[], q: Queues): Promise<void> {
    const t0 = Date.now();
    this.recent = new Set();
    this.resetInFlight = false;
    try {
      const nodes = await this.readNodes(kids, q.newChildren);
      const lists = await readParentLists(this.ctx.session, this.dag, nodes);
      const unknown = new Set<string>();
      for (const l of lists.values()) if (l && 'ids' in l) for (const p of l.ids) if (!this.index.pending(p)) unknown.add(p);
      const ends = await readRecords(this.ctx.session, this.ctx.paths, this.parentSizes, [...unknown], (r) => parentEnd(r));
      if (!q.alive()) return;
      const registered: string[][] = [];
      for (const [c, l] of lists) {
        if (!l) continue; // no parents node: gone with its record
        if (!('ids' in l)) {
          this.unreadable(c, l.unreadable);
          continue;
        }
        // Decided meanwhile, or seen again (a resubmit, a relist): registered from a later read.
        if (this.index.has(c) || q.decided.has(c) || q.newChildren.has(c)) continue;
        const unread: string[] = [];
        const d = this.index.register(c, l.onParentFailure, l.ids, (p) => {
          const e = ends.get(p);
          if (e !== undefined) return e;
          unread.push(p); // cannot happen (every parent not pending was read): joined, and read
          return null;
        });
        if (d) q.decided.set(c, d);
        else registered.push(l.ids);
        for (const p of unread) q.endedParents.add(p);
      }
      // The race: parents that ended while we read, now with waiters, are read again; after a
      // reset of the done/ watch (events lost, none to replay), all of theirs are.
      for (const p of this.recent) if (this.index.pending(p)) q.endedParents.add(p);
      if (this.resetInFlight) for (const ids of registered) for (const p of ids) if (this.index.pending(p)) q.endedParents.add(p);
      this.log.debug({ children: lists.size, parentsRead: unknown.size, reset: this.resetInFlight, ms: Date.now() - t0 }, 'dependent tasks registered');
    } finally {
      this.recent = null;
      this.resetInFlight = false;
    }
  }

  /** The parents nodes of `kids`, as many as MAX_PARENT_IDS parent ids allow (at least one); the rest go back for the next pass. */
  private async readNodes(kids: readonly string[], back: Set<string>): Promise<Map<string, ParentsNode>> {
    const out = new Map<string, ParentsNode>();
    let ids = 0;
    for (const [c, n] of await readParentNodes(this.ctx.session, this.dag, kids)) {
      if (n === null) continue;
      if ('unreadable' in n) {
        this.unreadable(c, n.unreadable);
        continue;
      }
      if (out.size > 0 && ids + n.count > MAX_PARENT_IDS) {
        back.add(c);
        continue;
      }
      out.set(c, n);
      ids += n.count;
    }
    return out;
  }

  unreadable(id: string, why: string): void {
    this.stats.unreadable++;
    this.log.error({ taskId: id, err: why }, 'parent list of a waiting task cannot be read; left waiting (cancel it, or fix its dag/parents node)');
  }
}
