// Taking assignments back, for the reconciler: an assignment that disagrees with its record
// is removed, one past its deadline (watched pass while connected) or of a gone member is
// reclaimed through the protocol's fenced multi, one whose record does not parse is failed.
// Each keeps the mirror (HeldIndex) in step with what it removed.
import { Paths } from '../shared/protocol/paths.js';
import type { TaskError } from '../shared/protocol/task-record.js';
import { readTask, type ReadResult as TaskRead } from '../shared/protocol/task-store.js';
import { failMalformedAssigned, holdsAttempt, reclaim, removeStaleAssignment } from '../shared/protocol/transitions.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { HeldIndex } from './held-index.js';
import { notDeposed, type Held, type LeaderContext } from './leader-context.js';

/** Fresh reads of a malformed record that moved under its fail, before giving up for now. */
const MALFORMED_TRIES = 3;

export class TakeBacks {
  constructor(
    private readonly ctx: LeaderContext,
    private readonly index: HeldIndex,
    /** The member is judged again at the next refresh (what happened is not known). */
    private readonly markDirty: (member: string) => void,
  ) {}

  /** An assignment must match its record (holdsAttempt: same member and attempt, still in progress); else it is removed. */
  async verifyHeld(h: Held, r: TaskRead, tries = 0): Promise<void> {
    if (r.kind === 'ok' && holdsAttempt(r.record, h.member, h.attempt)) return;
    if (r.kind === 'malformed') return this.failMalformedAssigned(h, r.reason, r.version, tries);
    this.ctx.log.warn({ taskId: h.taskId, attempt: h.attempt, member: h.member, record: r.kind }, 'stale assignment: removing it');
    const v = notDeposed(this.ctx, await removeStaleAssignment(this.ctx, this.ctx.paths.assignment(h.member, h.taskId, h.attempt)));
    if (v.kind === 'unknown') throw v.error;
    // moved: gone already.
    this.index.remove(h);
  }


  /**
   * Takes back every attempt past its deadline, as `timeout` (counted), but only a deadline
   * this leader watched pass while connected. One that passed while it was cut off (a quorum
   * loss, a partition) is pushed to now + the grace: meanwhile its worker may well have given
   * up its session and lost the attempt (uncounted), and its old member node may only just be
   * going; the take-back would otherwise race that and use up an attempt.
   */
  async reclaimOverdue(now: number): Promise<void> {
    // From the deadline heap: nothing is looked at when nothing is due.
    const overdue: Held[] = [];
    const since = this.ctx.connectedSince;
    let pushed = 0;
    for (const h of this.index.deadlines.due(now)) {
      if (this.pushedPastCut(h, since)) pushed++;
      else overdue.push(h);
    }
    if (pushed > 0) this.ctx.log.info({ count: pushed, graceMs: this.ctx.opts.timeoutGraceMs }, 'deadlines passed while cut off from ZooKeeper: their take-backs wait a grace');
    try {
      for (const h of overdue) {
        await this.reclaim(h, { kind: 'timeout', message: `attempt ${h.attempt} passed its deadline on ${h.member}; taken back by the leader`, retryable: true }, false, true);
      }
    } finally {
      // Those still held (a reclaim that failed or gave up) are due again next round.
      for (const h of overdue) this.index.deadlines.stillDue(h, now);
    }
  }

  /**
   * A deadline that passed before our connection began (we were cut off, maybe without knowing
   * it yet) moves to now + the grace; true when it did.
   */
  private pushedPastCut(h: Held, since = this.ctx.connectedSince): boolean {
    if (h.deadline === null || h.deadline >= since) return false;
    this.index.deadlines.move(h, Date.now() + this.ctx.opts.timeoutGraceMs);
    this.ctx.log.debug({ taskId: h.taskId, attempt: h.attempt, member: h.member }, 'deadline passed while cut off: take-back postponed by the grace');
    return true;
  }

  /**
   * A gone member's directory that would not go (NOT_EMPTY), listed: an assignment the mirror
   * lacks becomes unread (read, then taken back); a child that is no assignment (nothing
   * would ever take it back) is removed, fenced. True when something was found to do.
   */
  async clearDir(member: string): Promise<boolean> {
    const { session, paths } = this.ctx;
    let children: string[];
    try {
      ({ children } = await session.retrying(() => session.getChildren(paths.assignDir(member))));
    } catch (err) {
      if (err instanceof NoNodeError) return true;
      throw err;
    }
    let found = false;
    for (const name of children) {
      if (Paths.parseAssignment(name)) {
        if (!this.index.dir(member)?.has(name)) found = this.index.foundUnread(member, name) || found;
        continue;
      }
      this.ctx.log.warn({ member, name }, "not an assignment, in a gone member's directory: removing it");
      const v = notDeposed(this.ctx, await removeStaleAssignment(this.ctx, paths.assignmentAt(member, name)));
      if (v.kind === 'unknown') throw v.error;
      // moved: gone already (found), or it has children of its own (the directory stays).
      found ||= v.kind === 'committed' || v.code === 'NO_NODE';
    }
    return found;
  }

  /** Reclaims one assignment if its record still says the member holds it. */
  async reclaim(h: Held, error: TaskError, requeueNow: boolean, deadline = false, read?: TaskRead): Promise<void> {
    const { session, paths } = this.ctx;
    for (let tries = 0; tries < 5; tries++) {
      const r = tries === 0 && read ? read : await readTask(session, paths, h.taskId);
      // The read may have waited out a cut (a connection we took for alive): judge again.
      if (deadline && this.pushedPastCut(h)) return;
      if (r.kind === 'malformed') return this.failMalformedAssigned(h, r.reason, r.version);
      if (r.kind !== 'ok' || !holdsAttempt(r.record, h.member, h.attempt)) {
        const v = notDeposed(this.ctx, await removeStaleAssignment(this.ctx, paths.assignment(h.member, h.taskId, h.attempt)));
        if (v.kind === 'unknown') throw v.error;
        // moved: gone already.
        this.index.remove(h);
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
        this.ctx.metrics?.reclaimed(deadline ? 'deadline' : 'worker-gone', (v.next.lost ?? 0) > (r.record.lost ?? 0));
        this.ctx.emit('reclaimed', h.taskId, error.kind);
      }
      this.index.remove(h);
      return;
    }
  }

  /**
   * An assignment whose record does not parse: removing only the assignment would leave the
   * task in no index at all (never terminal, never purged). Fail it with the reason, in the
   * multi that removes the assignment, so a worker's own commit and ours cannot both win.
   */
  private async failMalformedAssigned(h: Held, reason: string, version: number, tries = 0): Promise<void> {
    const assignment = this.ctx.paths.assignment(h.member, h.taskId, h.attempt);
    this.ctx.log.warn({ taskId: h.taskId, attempt: h.attempt, member: h.member, reason }, 'malformed task record behind an assignment: marking it failed');
    const v = notDeposed(this.ctx, await failMalformedAssigned(this.ctx, { ...h, assignment }, reason, version, this.ctx.fence()));
    if (v.kind === 'unknown') throw v.error;
    if (v.kind === 'moved' && v.part !== 'assignment') {
      // The record moved (or went): the assignment is still there, holding its slot. Judged
      // again from a fresh read; after a few tries, unread again (read anew) and its member
      // judged at the next refresh.
      if (tries < MALFORMED_TRIES) return this.verifyHeld(h, await readTask(this.ctx.session, this.ctx.paths, h.taskId), tries + 1);
      this.markDirty(h.member);
      this.ctx.kick();
      return this.index.unreadAgain(h);
    }
    // Committed, or the assignment is gone (the worker failed it first).
    this.index.remove(h);
  }
}
