// The leader's picture of who holds what: every assignment directory, read at takeover and
// re-read when its watch fires. Assignments of members that are gone go back to the queue,
// assignments that disagree with their record are removed, attempts past their deadline are
// taken back. Everything here can be thrown away and rebuilt from the znodes.
import { Paths } from '../shared/protocol/paths.js';
import type { AssignmentData } from '../shared/protocol/task-ops.js';
import type { TaskError } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { failMalformedAssigned, holdsAttempt, reclaim, removeMemberDir, removeStaleAssignment } from '../shared/protocol/transitions.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { MembershipObserver } from '../shared/zk/membership.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import { notDeposed, type Held, type LeaderContext } from './leader-context.js';

export class Reconciler {
  /** member → assignment name → what it holds. Mirrors assign/<member>/. */
  private readonly held = new Map<string, Map<string, Held>>();
  /** Member directories whose watch fired: re-read. */
  private readonly dirty = new Set<string>();
  private readonly dirWatchers: StableWatchers;

  constructor(
    private readonly ctx: LeaderContext,
    private readonly observer: MembershipObserver,
  ) {
    this.dirWatchers = new StableWatchers(ctx.session);
  }

  /**
   * The picture from ZooKeeper alone: every assignment directory is read; those of members
   * that are gone are reclaimed; assignments that disagree with their record are removed.
   */
  async rebuild(): Promise<void> {
    const { session, paths } = this.ctx;
    const { children } = await session.retrying(() => session.getChildren(paths.assign));
    for (const member of children) this.dirty.add(member);
    await this.refreshMembers(true);
  }

  markDirty(member: string): void {
    this.dirty.add(member);
  }
  /** Outcome of a write unknown: re-read every directory we know. */
  markAllDirty(): void {
    for (const m of this.held.keys()) this.dirty.add(m);
  }
  get hasDirty(): boolean {
    return this.dirty.size > 0;
  }

  /** A member's directory has been read: it exists and its load is known. */
  knows(member: string): boolean {
    return this.held.has(member);
  }
  load(member: string): number {
    return this.held.get(member)?.size ?? 0;
  }
  heldCount(): number {
    let n = 0;
    for (const m of this.held.values()) n += m.size;
    return n;
  }

  /** Records an assignment we just made. */
  recordAssigned(h: Held): void {
    let m = this.held.get(h.member);
    if (!m) this.held.set(h.member, (m = new Map()));
    m.set(Paths.assignmentName(h.taskId, h.attempt), h);
  }

  earliestDeadline(): number | null {
    let earliest: number | null = null;
    for (const m of this.held.values()) for (const h of m.values()) if (h.deadline !== null && (earliest === null || h.deadline < earliest)) earliest = h.deadline;
    return earliest;
  }

  private forget(h: Held): void {
    this.held.get(h.member)?.delete(Paths.assignmentName(h.taskId, h.attempt));
  }

  private isLive(member: string): boolean {
    return this.observer.get(member) !== undefined;
  }

  /** Re-reads dirty member directories; reclaims what dead members held. */
  async refreshMembers(verify = false): Promise<void> {
    const members = [...this.dirty];
    this.dirty.clear();
    // All settle before any error surfaces: a read still running after the round ended could
    // overwrite a newer count of that member's load.
    const results = await Promise.allSettled(members.map((m) => this.refreshMember(m, verify)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async refreshMember(member: string, verify: boolean): Promise<void> {
    const { session, paths } = this.ctx;
    let live = this.isLive(member);
    let names: string[];
    const dir = paths.assignDir(member);
    const watcher = this.dirWatchers.get(member, (generation) => () => {
      if (generation !== session.generation || this.ctx.stopped) return;
      this.dirty.add(member);
      this.ctx.kick();
    });
    try {
      // The view can lag a registration (a directory listed after the view was read): a
      // member is dead only once its member node is gone, never to return (its name holds
      // its session). Reclaiming from a live one would delete the directory it works from.
      if (!live) live = (await session.retrying(() => session.exists(paths.member(member)))) !== null;
      ({ children: names } = await session.retrying(() => session.getChildren(dir, live ? watcher : undefined)));
    } catch (err) {
      if (err instanceof NoNodeError) {
        this.held.delete(member);
        // Registered, directory not made yet (the member node comes first): assign nothing
        // to it until it is there.
        if (live && (await session.retrying(() => session.exists(dir, watcher))) !== null) watcher({ type: 'created', path: dir });
        return;
      }
      this.dirty.add(member);
      throw err;
    }
    const before = this.held.get(member) ?? new Map<string, Held>();
    const now = new Map<string, Held>();
    const fresh = names.filter((n) => !before.has(n));
    const known = names.filter((n) => before.has(n));
    for (const n of known) now.set(n, before.get(n)!);
    // Deadlines of assignments we did not make ourselves (an earlier leader's) are read once.
    const read = await Promise.all(fresh.map((n) => this.readHeld(member, n)));
    for (const h of read) if (h) now.set(Paths.assignmentName(h.taskId, h.attempt), h);
    this.held.set(member, now);

    if (!live) {
      await this.reclaimMember(member, [...now.values()]);
      return;
    }
    if (verify) await Promise.all([...now.values()].map((h) => this.verifyHeld(h)));
  }

  private async readHeld(member: string, name: string): Promise<Held | null> {
    const { session, paths } = this.ctx;
    const parsed = Paths.parseAssignment(name);
    if (!parsed) {
      this.ctx.log.warn({ member, name }, 'unparseable assignment name; ignoring it');
      return null;
    }
    try {
      const { data } = await session.retrying(() => session.getData(paths.assignmentAt(member, name)));
      let deadline: number | null = null;
      try {
        deadline = (JSON.parse(data.toString('utf8')) as AssignmentData).deadline ?? null;
      } catch {
        /* a damaged assignment body: no deadline known; the record still decides */
      }
      // A deadline we did not set (an earlier leader's): we did not watch it pass. Give the
      // worker a grace from now to be seen gone (uncounted) before a take-back counts.
      if (deadline !== null) deadline = Math.max(deadline, Date.now() + this.ctx.opts.timeoutGraceMs);
      return { member, taskId: parsed.taskId, attempt: parsed.attempt, deadline };
    } catch (err) {
      if (err instanceof NoNodeError) return null;
      throw err;
    }
  }

  /** An assignment must match its record (holdsAttempt: same member and attempt, still in progress); else it is removed. */
  private async verifyHeld(h: Held): Promise<void> {
    const r = await readTask(this.ctx.session, this.ctx.paths, h.taskId);
    if (r.kind === 'ok' && holdsAttempt(r.record, h.member, h.attempt)) return;
    if (r.kind === 'malformed') return this.failMalformedAssigned(h, r.reason, r.version);
    this.ctx.log.warn({ taskId: h.taskId, attempt: h.attempt, member: h.member, record: r.kind }, 'stale assignment: removing it');
    const v = notDeposed(this.ctx, await removeStaleAssignment(this.ctx, this.ctx.paths.assignment(h.member, h.taskId, h.attempt)));
    if (v.kind === 'unknown') throw v.error;
    // moved: gone already.
    this.forget(h);
  }

  /** Takes back everything a gone member held, then deletes its directory. */
  private async reclaimMember(member: string, held: Held[]): Promise<void> {
    for (const h of held) {
      await this.reclaim(h, { kind: 'worker-lost', message: `worker ${member} left during attempt ${h.attempt}`, retryable: true }, true);
    }
    const v = notDeposed(this.ctx, await removeMemberDir(this.ctx, member));
    if (v.kind === 'unknown') throw v.error;
    if (v.kind === 'committed') {
      this.held.delete(member);
      this.dirWatchers.delete(member);
      this.ctx.log.info({ member, reclaimed: held.length }, 'worker gone: its tasks are back in the queue');
    } else if (v.code === 'NOT_EMPTY') {
      // An assignment raced in (or a node we cannot parse sits there): go again, but not at
      // once, so a directory that stays non-empty costs a round a second, not a busy loop.
      this.dirty.add(member);
      setTimeout(() => this.ctx.kick(), 1000).unref();
    } else if (v.code === 'NO_NODE') {
      this.held.delete(member);
    } else throw v.error;
  }

  /**
   * Takes back every attempt past its deadline, as `timeout` (counted), but only a deadline
   * this leader watched pass while connected. One that passed while it was cut off (a quorum
   * loss, a partition) is pushed to now + the grace: meanwhile its worker may well have given
   * up its session and lost the attempt (uncounted), and its old member node may only just be
   * going; the take-back would otherwise race that and use up an attempt.
   */
  async reclaimOverdue(now: number): Promise<void> {
    const overdue: Held[] = [];
    const since = this.ctx.connectedSince;
    let pushed = 0;
    for (const m of this.held.values()) {
      for (const h of m.values()) {
        if (h.deadline === null || h.deadline > now) continue;
        if (this.pushedPastCut(h, since)) pushed++;
        else overdue.push(h);
      }
    }
    if (pushed > 0) this.ctx.log.info({ count: pushed, graceMs: this.ctx.opts.timeoutGraceMs }, 'deadlines passed while cut off from ZooKeeper: their take-backs wait a grace');
    for (const h of overdue) {
      await this.reclaim(h, { kind: 'timeout', message: `attempt ${h.attempt} passed its deadline on ${h.member}; taken back by the leader`, retryable: true }, false, true);
    }
  }

  /**
   * A deadline that passed before our connection began (we were cut off, maybe without knowing
   * it yet) moves to now + the grace; true when it did.
   */
  private pushedPastCut(h: Held, since = this.ctx.connectedSince): boolean {
    if (h.deadline === null || h.deadline >= since) return false;
    h.deadline = Date.now() + this.ctx.opts.timeoutGraceMs;
    this.ctx.log.debug({ taskId: h.taskId, attempt: h.attempt, member: h.member }, 'deadline passed while cut off: take-back postponed by the grace');
    return true;
  }

  /** Reclaims one assignment if its record still says the member holds it. */
  private async reclaim(h: Held, error: TaskError, requeueNow: boolean, deadline = false): Promise<void> {
    const { session, paths } = this.ctx;
    for (let tries = 0; tries < 5; tries++) {
      const r = await readTask(session, paths, h.taskId);
      // The read may have waited out a cut (a connection we took for alive): judge again.
      if (deadline && this.pushedPastCut(h)) return;
      if (r.kind === 'malformed') return this.failMalformedAssigned(h, r.reason, r.version);
      if (r.kind !== 'ok' || !holdsAttempt(r.record, h.member, h.attempt)) {
        const v = notDeposed(this.ctx, await removeStaleAssignment(this.ctx, paths.assignment(h.member, h.taskId, h.attempt)));
        if (v.kind === 'unknown') throw v.error;
        // moved: gone already.
        this.forget(h);
        return;
      }
      const v = notDeposed(this.ctx, await reclaim(this.ctx, { record: r.record, version: r.version }, error, Date.now(), requeueNow));
      if (v.kind === 'unknown') throw v.error;
      if (v.kind === 'moved') {
        if (v.part === 'record') continue; // record moved: re-read
        if (v.part !== 'assignment') throw v.error;
        // The worker committed (or someone cancelled) first: nothing to take back.
      } else {
        this.ctx.log.info({ taskId: h.taskId, attempt: h.attempt, member: h.member, reason: error.kind, next: v.next.state }, 'assignment reclaimed');
        this.ctx.emit('reclaimed', h.taskId, error.kind);
      }
      this.forget(h);
      return;
    }
  }

  /**
   * An assignment whose record does not parse: removing only the assignment would leave the
   * task in no index at all (never terminal, never purged). Fail it with the reason, in the
   * multi that removes the assignment, so a worker's own commit and ours cannot both win.
   */
  private async failMalformedAssigned(h: Held, reason: string, version: number): Promise<void> {
    const assignment = this.ctx.paths.assignment(h.member, h.taskId, h.attempt);
    this.ctx.log.warn({ taskId: h.taskId, attempt: h.attempt, member: h.member, reason }, 'malformed task record behind an assignment: marking it failed');
    const v = notDeposed(this.ctx, await failMalformedAssigned(this.ctx, { ...h, assignment }, reason, version, this.ctx.fence()));
    if (v.kind === 'unknown') throw v.error;
    if (v.kind === 'moved') {
      // Gone or changed meanwhile (the worker failed it first): the next listing decides.
      this.dirty.add(h.member);
      this.ctx.kick();
    }
    this.forget(h);
  }
}
