// The leader's release of dependent tasks (issue 15): a waiting task is queued, in one fenced
// multi with up to 99 others, once every parent has succeeded (or, with onParentFailure 'run',
// ended), or failed as dependency-failed when one failed or was cancelled.
//
// What it knows is rebuilt from ZooKeeper at every takeover and after every re-arm of the
// dag/waiting watch (dag-index.ts): the waiting index listed, each child not known read (its
// parent list, its parents' records not already pending), each known child the listing no
// longer holds forgotten (mark and sweep). A re-arm of the done/ watch lists nothing: it reads
// every pending parent's record again. Two persistent recursive watches keep it current:
// - done/: a created done entry names a finished task; one no registered child waits on costs
//   a Map lookup, one that matters a read of its record (batched with the others of the pass).
//   Armed only while children wait (before the first registration reads a parent, removed
//   once none is left): a cluster without dependencies gets no event per finished task;
// - dag/waiting/: a created entry is a new waiting child (its parents are read, then those
//   parents' records not already pending; one already known was made anew, a resubmit, and is
//   read again); a deleted one is gone (released, failed, cancelled).
// Everything runs in one serial pump (register new children, resolve ended parents, write
// decisions), so no two passes change the index at once.
//
// A registration (dag-register.ts) covers the race of a parent finishing while its record is
// read, and a reset of the done/ watch meanwhile; a child whose parent list cannot be read is
// left waiting with an error line, and does not hold up the others' releases.
//
// Never twice: a release or failure sets the record at the version just read, so a second one
// (ours after an unknown verdict, a former leader's) is refused; a new leader rebuilds from
// dag/waiting, which no longer holds what was released.
import type { Logger } from '../shared/log.js';
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';
import type { TreeEvent } from '../shared/zk/session.js';
import { Coalescer } from '../shared/util/coalescer.js';
import { DagIndex } from './dag-index.js';
import { DagWriter, take } from './dag-writer.js';
import { listWaiting, parentEnd, readRecords } from './dag-reads.js';
import { DagRegistrar } from './dag-register.js';
import { DagWatches, taskUnder } from './dag-watches.js';
import { DecayingSizes } from './dag-sizes.js';
import { DeposedError, type LeaderContext } from './leader-context.js';
import type { LeaderService } from './leader-services.js';

/** Children registered, parents resolved, decisions written per pass of the pump at most (bounds what one pass holds). */
const PASS = 1000;
const RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/** What the releaser has done (tests and the bench read it). */
export interface DagReleaseStats {
  released: number;
  failed: number;
  /** Passes of the waiting index's listing (takeover, re-arms). */
  listings: number;
  /** Done entries seen created (each a Map lookup; a read only for a parent someone waits on). */
  doneEvents: number;
  /** Resets of the done/ watch (reconnects, reasserts). */
  doneResets: number;
  /** Times the done/ watch was armed (it is removed while no child waits). */
  doneArms: number;
  /** Children whose parent list could not be read (left waiting, with an error line). */
  unreadable: number;
}

export class DagRelease implements LeaderService {
  readonly name = 'dag-release';
  readonly stats: DagReleaseStats = { released: 0, failed: 0, listings: 0, doneEvents: 0, doneResets: 0, doneArms: 0, unreadable: 0 };
  private readonly dag: DagPaths;
  private readonly log: Logger;
  private readonly index = new DagIndex();
  /** The parents' records' sizes (the writer has its own for the children's). */
  private readonly parentSizes = new DecayingSizes();
  private stopped = false;
  /** dag/waiting/, armed at start; done/, armed while children wait (dag-watches.ts). */
  private readonly watches: DagWatches;
  /** Waiting children seen (event or listing), not yet registered. */
  private readonly newChildren = new Set<string>();
  /** Parents whose done entry came (or whose events may have been missed), to read. */
  private readonly endedParents = new Set<string>();
  /** Children decided, not yet written. */
  private readonly decided: DagWriter;
  private readonly registrar: DagRegistrar;
  /** Every waiting id seen by the listing in progress (and created during it); null when none runs. */
  private listed: Set<string> | null = null;
  private readonly pump: Coalescer;
  private readonly relist: Coalescer;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private failures = 0;

  constructor(readonly ctx: LeaderContext) {
    this.dag = new DagPaths(ctx.paths);
    this.log = ctx.log.child({ component: 'dag' });
    this.decided = new DagWriter(ctx, this.dag, this.log, this.stats);
    this.watches = new DagWatches(
      ctx.session,
      this.dag,
      { waiting: (e) => this.onWaiting(e), waitingReset: () => this.relist.kick(), done: (e) => this.onDone(e), doneReset: () => this.onDoneReset() },
      () => this.stopped,
    );
    this.registrar = new DagRegistrar(ctx, this.dag, this.log, this.stats, this.index, this.parentSizes);
    this.pump = new Coalescer(
      () => this.pass(),
      (err) => this.onError(err, 'pump', () => this.pump.kick()),
    );
    this.relist = new Coalescer(
      () => this.listAll(),
      (err) => this.onError(err, 'relist', () => this.relist.kick()),
    );
  }

  /** Arms the dag/waiting watch (done/ is armed before the first registration); the rebuild runs in the background. */
  async start(): Promise<void> {
    try {
      await this.watches.armWaiting();
    } catch (err) {
      // Armed again in the background (a connection loss mid-start must not leave the leadership without releases).
      this.onError(err, 'start', () => void this.start());
    }
  }

  /** No child waits: the done/ watch goes (from a pass of the pump, so no registration runs meanwhile). */
  private async disarmDone(): Promise<void> {
    if (this.watches.doneArmed && this.index.size === 0 && this.idle) await this.watches.disarmDone();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.index.clear();
    this.newChildren.clear();
    this.endedParents.clear();
    this.decided.clear();
    await this.watches.close();
  }

  /** Whether anything is left to do (tests wait for it). */
  get idle(): boolean {
    return this.newChildren.size === 0 && this.endedParents.size === 0 && this.decided.size === 0;
  }
  /** Waiting children and distinct pending parents known. */
  get size(): { children: number; parents: number } {
    return { children: this.index.size, parents: this.index.parents };
  }
  /** Parents' records read (tests). */
  get parentRecordsRead(): number {
    return this.parentSizes.reads;
  }

  private onDone(e: TreeEvent): void {
    if (this.stopped || e.type !== 'created') return;
    const id = taskUnder(e.path, this.ctx.paths.done, true);
    if (id === null) return;
    this.stats.doneEvents++;
    this.registrar.noteDone(id);
    if (!this.index.pending(id)) return;
    this.endedParents.add(id);
    this.pump.kick();
  }

  /** Done events may have been missed: every pending parent is read again (bounded by them, not by the backlog). */
  private onDoneReset(): void {
    if (this.stopped) return;
    this.stats.doneResets++;
    this.registrar.noteReset();
    for (const p of this.index.pendingParents()) this.endedParents.add(p);
    if (this.endedParents.size > 0) this.pump.kick();
  }

  private onWaiting(e: TreeEvent): void {
    if (this.stopped || e.type === 'changed') return;
    const id = taskUnder(e.path, this.dag.waitingDir, false);
    if (id === null) return;
    if (e.type === 'deleted') {
      // Released, failed or cancelled: nothing is left to decide for it.
      this.newChildren.delete(id);
      this.index.drop(id);
      this.decided.delete(id); // a refused write is not tried again
      return;
    }
    this.listed?.add(id);
    // Known already: made anew (its delete fell in a gap of the watch), parents maybe others.
    this.index.drop(id);
    this.decided.delete(id);
    this.newChildren.add(id);
    this.pump.kick();
  }

  /**
   * Takeover or re-arm: every waiting child not known yet is registered; every known one the
   * listing does not hold (nor a created event during it) is forgotten (its delete fell in a gap).
   */
  private async listAll(): Promise<void> {
    if (this.stopped) return;
    const t0 = Date.now();
    const listed = (this.listed = new Set<string>());
    try {
      await listWaiting(
        this.ctx.session,
        this.dag,
        (names) => {
          for (const id of names) {
            listed.add(id);
            if (!this.index.has(id) && !this.decided.has(id)) this.newChildren.add(id);
          }
          this.pump.kick();
        },
        () => !this.stopped,
      );
    } finally {
      if (this.listed === listed) this.listed = null;
    }
    if (this.stopped) return;
    let swept = 0;
    for (const id of [...this.index.childIds()]) if (!listed.has(id)) (this.index.drop(id), swept++);
    for (const id of [...this.newChildren]) if (!listed.has(id)) this.newChildren.delete(id);
    if (swept > 0) this.index.prune();
    const seen = listed.size;
    this.stats.listings++;
    this.failures = 0;
    this.log[seen > 0 ? 'info' : 'debug']({ waiting: seen, swept, ms: Date.now() - t0 }, 'waiting index listed');
  }

  /** One pass: register, resolve, write, as long as there is work (each step bounded by PASS); a failed registration does not hold up the rest. */
  private async pass(): Promise<void> {
    while (!this.stopped && !this.idle) {
      let failed: unknown = null;
      try {
        await this.register();
      } catch (err) {
        if (err instanceof DeposedError || err instanceof SessionExpiredError || err instanceof SessionClosedError) throw err;
        failed = err;
      }
      await this.resolve();
      await this.decided.write(PASS, () => !this.stopped);
      if (failed) throw failed; // retried after a pause (its children were put back)
    }
    if (!this.stopped) await this.disarmDone();
    this.failures = 0;
  }

  private async register(): Promise<void> {
    if (this.newChildren.size === 0) return;
    await this.watches.armDone();
    this.stats.doneArms = this.watches.doneArms;
    const kids = take(this.newChildren, PASS);
    if (kids.length === 0) return;
    try {
      await this.registrar.register(kids, {
        newChildren: this.newChildren,
        endedParents: this.endedParents,
        decided: this.decided,
        alive: () => !this.stopped,
      });
    } catch (err) {
      for (const c of kids) if (!this.index.has(c)) this.newChildren.add(c);
      throw err;
    }
  }

  private async resolve(): Promise<void> {
    const ps = take(this.endedParents, PASS);
    if (ps.length === 0) return;
    let reads;
    try {
      reads = await readRecords(this.ctx.session, this.ctx.paths, this.parentSizes, ps, (r) => parentEnd(r));
    } catch (err) {
      for (const p of ps) this.endedParents.add(p);
      throw err;
    }
    if (this.stopped) return;
    for (const p of ps) {
      const end = reads.get(p) ?? null;
      if (end === null) continue; // not ended (retried since): its next done entry brings it back
      for (const [c, d] of this.index.ended(p, end)) this.decided.set(c, d);
    }
  }

  /** Logs and retries `again` after a pause (one timer per `key`: failures do not pile up timers). */
  private onError(err: unknown, key: string, again: () => void): void {
    if (this.stopped) return;
    if (err instanceof DeposedError) {
      this.ctx.emit('deposed', `fence refused a write: ${err.message}`);
      return;
    }
    if (err instanceof SessionExpiredError || err instanceof SessionClosedError) return; // the election reports it
    if (this.timers.has(key)) return;
    const ms = Math.min(MAX_RETRY_MS, RETRY_MS * 2 ** this.failures++);
    this.log.warn({ err: (err as Error).message, retryInMs: ms }, 'dependency release failed; retrying');
    const t = setTimeout(() => {
      this.timers.delete(key);
      if (!this.stopped) again();
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }
}
