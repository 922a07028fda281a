// The leader's picture of who holds what: a mirror of assign/ kept by one tree watch
// (held-index.ts; a finish frees its slot with no listing), read whole only at takeover and
// after a reset (assign-resync.ts, a few requests per hundred members). Assignments of members
// that are gone go back to the queue, assignments that disagree with their record are
// removed, attempts past their deadline are taken back. Everything here can be thrown away
// and rebuilt from the znodes.
import { removeMemberDir } from '../shared/protocol/transitions.js';
import type { MembershipObserver } from '../shared/zk/membership.js';
import type { TreeWatch } from '../shared/zk/session.js';
import { readUnread, resyncAssignments, type ResyncDeps } from './assign-resync.js';
import { ClassLearner, learnClass } from './held-classes.js';
import { HeldIndex } from './held-index.js';
import { UNKNOWN_LOAD, readRecords } from './held-reads.js';
import { notDeposed, type Held, type LeaderContext } from './leader-context.js';
import { TakeBacks } from './take-backs.js';

export class Reconciler {
  private readonly index: HeldIndex;
  /** Members to judge: gone (take back what they held, delete the directory) or alive. */
  private readonly dirty = new Set<string>();
  /** Events may have been missed (first arm, reconnect, new session): read assign/ whole. */
  private needsResync = false;
  /** Resets: expected (the connection dropped), seen (onReset since), applied (a resync after it done). */
  private readonly resets = { expected: 0, seen: 0, applied: 0 };
  private watch?: TreeWatch;
  private closed = false;
  private armed!: () => void;
  private readonly firstReset = new Promise<void>((r) => (this.armed = r));
  private readonly deps: ResyncDeps;
  private readonly takeBacks: TakeBacks;
  private readonly classes: ClassLearner;
  /** Members whose node was seen deleted: gone for good (the name holds the session), no check needed. */
  private readonly gone = new Set<string>();
  /** Gone members whose directory stayed non-empty, and how many times so far (backs off). */
  private readonly stuck = new Map<string, number>();
  private readonly onGone = (member: string) => {
    // Seen in the view or not (it may have died before it was read), its directory known or
    // not (a resync may be about to bring it in): judgeOne forgets it if it has none.
    if (this.closed) return;
    this.gone.add(member);
    this.dirty.add(member);
    this.ctx.kick();
  };

  constructor(
    private readonly ctx: LeaderContext,
    private readonly observer: MembershipObserver,
  ) {
    this.index = new HeldIndex(ctx.paths.assign, () => {
      if (!this.closed && !ctx.stopped) ctx.kick();
    });
    this.takeBacks = new TakeBacks(ctx, this.index, (m) => void this.dirty.add(m));
    this.classes = new ClassLearner(ctx);
    this.deps = {
      session: ctx.session,
      paths: ctx.paths,
      log: ctx.log,
      index: this.index,
      isLive: (m) => this.isLive(m),
      expectedLoad: (m) => Math.max(this.index.load(m), this.observer.get(m)?.capacity ?? (this.index.has(m) ? 0 : UNKNOWN_LOAD)),
      timeoutGraceMs: ctx.opts.timeoutGraceMs,
      closed: () => this.closed,
    };
    observer.on('gone', this.onGone);
    // The leadership stops the observer when it ends: the tree watch goes with it.
    observer.once('stopped', () => void this.stop());
  }

  /**
   * The picture from ZooKeeper alone: the tree watch is armed, then every assignment
   * directory is read; those of members that are gone are reclaimed; assignments that
   * disagree with their record are removed.
   */
  async rebuild(): Promise<void> {
    const { session, paths } = this.ctx;
    const watch = await session.watchTree(
      paths.assign,
      (e) => {
        if (!this.closed) this.index.onEvent(e);
      },
      () => this.onReset(),
    );
    if (this.closed) return void watch.close().catch(() => undefined);
    this.watch = watch;
    await this.firstReset;
    // stop() resolves firstReset too: nothing is read for a reconciler that is closed.
    if (this.closed) return;
    await this.refreshMembers(true);
  }

  /** Takes the tree watch off (idempotent; the observer's stop does it too). */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.armed();
    this.observer.off('gone', this.onGone);
    await this.watch?.close().catch(() => undefined);
  }

  /** The connection dropped: events are being missed, and a reset (then a resync) is to come. */
  expectReset(): void {
    this.resets.expected++;
    this.index.forgetSizes();
  }
  /** Between a dropped connection and the resync after its reset: the picture may miss what happened meanwhile. */
  get resetPending(): boolean {
    return this.resets.applied < this.resets.expected;
  }

  private onReset(): void {
    if (this.closed) return;
    this.resets.seen = this.resets.expected;
    this.needsResync = true;
    this.armed();
    this.ctx.kick();
  }

  markDirty(member: string): void {
    this.dirty.add(member);
  }
  /** Outcome of a write unknown: judge every member we know again (the mirror follows the events). */
  markAllDirty(): void {
    for (const m of this.index.members()) this.dirty.add(m);
  }
  get hasDirty(): boolean {
    return this.needsResync || this.dirty.size > 0 || this.index.unread.size > 0 || this.index.unseen.size > 0;
  }

  /** A member's directory is known: it exists and its load is known. */
  knows(member: string): boolean {
    return this.index.has(member);
  }
  load(member: string): number {
    return this.index.load(member);
  }
  heldCount(): number {
    return this.index.count();
  }
  /** Every assignment known, read or known by its event only (metrics). */
  heldTotal(): number {
    return this.index.total();
  }

  /** Every assignment read or recorded (limits count them per scope; O(held)). */
  *held(): Generator<Held> {
    for (const m of this.index.members()) yield* this.index.dir(m)?.values() ?? [];
  }
  /** Assignments known by their event only (their task unknown yet). */
  unreadCount(): number {
    return this.index.total() - this.index.count();
  }

  /** Learns the class of held assignments that lack it (limits count them per scope: held-classes.ts). */
  learnClasses(): Promise<void> {
    return this.classes.learn(this.held());
  }

  /** Records an assignment we just made. */
  recordAssigned(h: Held): void {
    this.index.record(h);
  }

  earliestDeadline(): number | null {
    return this.index.deadlines.earliest();
  }

  private isLive(member: string): boolean {
    return this.observer.get(member) !== undefined;
  }

  /**
   * Brings the picture up to date: assign/ read whole after a reset, assignments we did not
   * make read, members to judge judged (what gone ones held is reclaimed); with `verify`
   * (takeover) every assignment of a live member is checked against its record.
   */
  refreshMembers(verify = false): Promise<void> {
    // One at a time: two resyncs or judges of one member side by side could undo each other.
    const run = this.refreshing.then(() => this.refresh(verify));
    this.refreshing = run.catch(() => undefined);
    return run;
  }
  private refreshing: Promise<void> = Promise.resolve();

  private async refresh(verify: boolean): Promise<void> {
    if (this.closed) return;
    this.index.prune(Date.now());
    let alive = new Map<string, boolean>();
    if (this.needsResync) {
      this.needsResync = false;
      const gen = this.resets.seen;
      try {
        alive = await resyncAssignments(this.deps);
      } catch (err) {
        this.needsResync = true;
        throw err;
      }
      this.resets.applied = Math.max(this.resets.applied, gen);
      for (const m of alive.keys()) this.dirty.add(m);
    }
    if (this.closed) return;
    await readUnread(this.deps);
    if (this.closed) return;
    await this.judge(alive);
    if (verify && !this.closed) await this.verifyAll(alive);
  }

  private async judge(alive: ReadonlyMap<string, boolean>): Promise<void> {
    const members = new Set([...this.dirty, ...this.index.unseen]);
    this.dirty.clear();
    this.index.unseen.clear();
    // All settle before any error surfaces: a reclaim still running after the round ended
    // could overwrite a newer picture of that member.
    const results = await Promise.allSettled([...members].map((m) => this.judgeOne(m, alive.get(m))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async judgeOne(member: string, alive: boolean | undefined): Promise<void> {
    // No directory: nothing held, nothing to delete (a live member's comes as an event).
    if (!this.index.has(member)) return void this.gone.delete(member);
    if (this.isLive(member)) return;
    const { session, paths } = this.ctx;
    try {
      // The view can lag a registration (a directory seen before the member was read):
      // reclaiming from a live member would delete the directory it works from.
      if (this.gone.has(member)) alive = false;
      if (alive ?? (await session.retrying(() => session.exists(paths.member(member)))) !== null) return;
      await this.reclaimMember(member);
    } catch (err) {
      this.dirty.add(member);
      throw err;
    }
  }

  /** Every assignment of a live member against its record, the records read in few requests. */
  private async verifyAll(alive: ReadonlyMap<string, boolean>): Promise<void> {
    const held: Held[] = [];
    for (const m of [...this.index.members()]) if (this.isLive(m) || alive.get(m) === true) held.push(...this.index.dir(m)!.values());
    const records = await readRecords(this.ctx.session, this.ctx.paths, held);
    held.forEach((h, i) => learnClass(h, records[i]!));
    await Promise.all(held.map((h, i) => this.takeBacks.verifyHeld(h, records[i]!)));
  }

  /** Takes back everything a gone member held, then deletes its directory. */
  private async reclaimMember(member: string): Promise<void> {
    const held = [...(this.index.dir(member)?.values() ?? [])];
    // The records in few requests (packed by their sizes when known); a reclaim whose record
    // moved meanwhile reads it again.
    const records = await readRecords(this.ctx.session, this.ctx.paths, held);
    for (const [i, h] of held.entries()) {
      await this.takeBacks.reclaim(h, { kind: 'worker-lost', message: `worker ${member} left during attempt ${h.attempt}`, retryable: true }, true, false, records[i]);
    }
    const v = notDeposed(this.ctx, await removeMemberDir(this.ctx, member));
    if (v.kind === 'unknown') throw v.error;
    if (v.kind === 'committed') {
      this.stuck.delete(member);
      this.index.dropDir(member);
      this.gone.delete(member);
      // (Its leave was logged at info with what it held: member-log.ts.)
      this.ctx.log.debug({ member, reclaimed: held.length }, 'worker gone: its tasks are back in the queue');
    } else if (v.code === 'NOT_EMPTY') {
      // An assignment raced in, or a node that is none sits there: see what it holds (the
      // assignments are taken back next, a stray node removed) and go again; a directory
      // that stays non-empty anyway is tried again later and later (1 s, doubling to a minute).
      if (await this.takeBacks.clearDir(member)) {
        this.dirty.add(member);
        return void this.ctx.kick();
      }
      const n = this.stuck.get(member) ?? 0;
      this.stuck.set(member, n + 1);
      // Not dirty meanwhile: other rounds do not try it again before its time.
      setTimeout(() => {
        if (this.closed) return;
        this.dirty.add(member);
        this.ctx.kick();
      }, Math.min(60_000, 1000 * 2 ** n)).unref();
      return;
    } else if (v.code === 'NO_NODE') {
      this.index.dropDir(member);
      this.gone.delete(member);
    } else throw v.error;
    this.stuck.delete(member);
  }

  /** Takes back every attempt past its deadline (take-backs.ts: only deadlines watched pass while connected). */
  reclaimOverdue(now: number): Promise<void> {
    return this.takeBacks.reclaimOverdue(now);
  }
}
