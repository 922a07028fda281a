// The attempt runner: lists the worker's own assignment directory (one watch:
// assignment-dir.ts), reads a burst of new assignments and their records in a few multiReads
// (burst-reads.ts), marks them running (one multi per burst), runs them through p-queue at most
// `concurrency` at once, and commits each outcome (commit.ts) in group commits with the others
// that finish meanwhile (finish-batcher.ts). It never decides who runs what; it obeys znodes.
import PQueue from 'p-queue';
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { HeldAttempt } from '../shared/protocol/transitions.js';
import { Coalescer } from '../shared/util/coalescer.js';
import { SessionExpiredError } from '../shared/zk/errors.js';
import { NoAuthBackoff } from '../shared/zk/auth-backoff.js';
import type { ZkSession } from '../shared/zk/session.js';
import { RETRY_LEFT_MS, settledWithin, type Attempt } from './attempt.js';
import { commitAttempt, failMalformed, withdrawnAttempt, type CommitContext, type CommitResult } from './commit.js';
import { parentsReader } from './parents-reader.js';
import { AttemptAbortedError, executeAttempt, type AbortKind, type ExecuteResult } from './executor.js';
import { attemptEnded } from './attempt-report.js';
import { reportSettled } from './attempt-settled.js';
import type { RunnerOptions } from './runner-types.js';
import { LeftAttempts } from './left-attempts.js';
import { markStarted } from './start-batch.js';
import { AssignmentDir } from './assignment-dir.js';
import { readBurst } from './burst-reads.js';
import { newEntries, takeBurst, type Intake } from './burst-intake.js';
import { FinishBatcher } from './finish-batcher.js';
import { SeenAssignments } from './seen-assignments.js';
import { VerifyReads } from './verify-reads.js';

export type { RunnerOptions, RunnerReport } from './runner-types.js';

export class AttemptRunner {
  private readonly session: ZkSession;
  private readonly paths: Paths;
  private readonly log: Logger;
  private readonly queue: PQueue;
  private readonly refresher: Coalescer;
  /** A refused listing (NO_AUTH) is logged once and retried 1 s doubling, not every 300 ms. */
  private readonly refusals: NoAuthBackoff;
  /** Commits go in group commits (finish-batcher.ts); unknown ones are verified by batched reads. */
  private readonly commits: CommitContext;
  /** In-flight attempts by assignment path (from first sight to commit/fence/give-up). */
  private readonly attempts = new Map<string, Attempt>();
  /** Assignment nodes already dealt with: not read again while they exist. */
  private readonly seen = new SeenAssignments();
  private readonly dir: AssignmentDir;
  /** The member name whose assignment directory is watched (the current incarnation). */
  private watchedMember: string | null = null;
  /** The session generation it registered in: after an expiry, nothing of it is listed until the new one is watched. */
  private watchedGeneration = -1;
  private accepting = false;
  /** Set when stopping: no more listings, commits stop retrying. */
  private giveUp = false;
  /** Attempts whose commit was refused again and again, waiting for a re-run to report them. */
  private readonly left = new LeftAttempts();

  constructor(private readonly opts: RunnerOptions) {
    this.session = opts.session;
    this.paths = opts.paths;
    this.log = opts.log;
    this.queue = new PQueue({ concurrency: opts.concurrency });
    const restore = (member: string) => (member === this.watchedMember ? opts.restoreAssignDir() : Promise.resolve(false));
    const changed = (member: string) => {
      if (this.watchedMember === member && !this.giveUp) this.refresher.kick();
    };
    this.dir = new AssignmentDir(opts.session, opts.paths, restore, changed, opts.log);
    const batcher = new FinishBatcher({ session: opts.session, paths: opts.paths }, opts.log);
    const reads = new VerifyReads(opts.session, opts.paths);
    this.commits = { session: opts.session, paths: opts.paths, stopping: () => this.giveUp, send: (...args) => batcher.finish(...args), reads };
    this.refusals = new NoAuthBackoff(opts.log);
    this.refresher = new Coalescer(
      () => (this.refusals.waiting ? Promise.resolve() : this.refresh().then(() => this.refusals.succeeded())),
      (err) => {
        if (this.giveUp) return;
        // Expiry is handled by the new incarnation's listing; anything else: look again soon.
        if (err instanceof SessionExpiredError) return;
        if (!NoAuthBackoff.is(err)) this.log.warn({ err: (err as Error).message }, 'reading assignments failed; retrying');
        this.refusals.schedule(err, 300, () => this.refresher.kick());
      },
    );
  }

  get inFlight(): number {
    return this.attempts.size;
  }

  /** Watches `member`'s directory only: an older incarnation's belongs to the leader now. */
  watch(member: string): void {
    this.watchedMember = member;
    this.watchedGeneration = this.session.generation;
    this.left.report(() => true);
    this.seen.clear();
    this.dir.follow(member);
    this.refresher.kick();
  }

  setAccepting(on: boolean): void {
    this.accepting = on;
  }

  /** Lists the directory now and resolves when that listing (and its start batch) is done. */
  async listNow(): Promise<void> {
    this.refresher.kick();
    await this.refresher.settled();
  }

  /** Resolves when an attempt in flight ends, or after `ms`. */
  async anyFinished(ms: number): Promise<void> {
    await settledWithin([...this.attempts.values()].map((a) => a.finished), ms);
  }

  /** Resolves when every attempt in flight has ended, or after `ms`. */
  async allFinished(ms: number): Promise<void> {
    const left = [...this.attempts.values()].map((a) => a.finished);
    if (left.length > 0) await settledWithin([Promise.all(left)], ms);
  }

  abortAll(kind: AbortKind, message: string): void {
    for (const a of this.attempts.values()) {
      if (!a.controller.signal.aborted) a.controller.abort(new AttemptAbortedError(kind, message));
    }
  }

  /** No more listings; pending commits give up. */
  close(): void {
    this.giveUp = true;
    this.accepting = false;
    this.watchedMember = null;
    this.dir.close();
    this.left.report(() => true);
  }

  // ---- listing -----------------------------------------------------------------------------

  private async refresh(): Promise<void> {
    const { session, paths } = this;
    const member = this.watchedMember;
    const stale = () => member !== this.watchedMember || session.generation !== this.watchedGeneration;
    if (!member || this.giveUp || session.state === 'expired' || session.state === 'closed' || stale()) return;
    const listed = await this.dir.list(member);
    if (stale()) return;
    if (!listed) {
      // Our directory was gone and is back: list it again.
      this.refresher.kick();
      return;
    }
    for (const a of this.attempts.values()) {
      if (a.member === member && !listed.has(a.key) && !a.controller.signal.aborted && !a.settling) {
        // Said once, by the attempt's end line (fenced or cancelled).
        a.log.debug('assignment withdrawn; aborting the attempt');
        a.controller.abort(new AttemptAbortedError('withdrawn', 'assignment withdrawn: cancelled or reclaimed'));
      }
    }
    this.seen.prune(listed);
    this.left.report((key) => !listed.has(key));
    if (!this.accepting) return;

    const intake: Intake = {
      session,
      member,
      log: this.log,
      maxProgressBytes: this.opts.limits.maxResultBytes,
      attempts: this.attempts,
      seen: this.seen,
      malformed: (held, reason, version, log) => void this.failMalformed(held, reason, version, log),
    };
    const entries = newEntries(intake, listed);
    if (entries.length === 0) return;
    // One multiRead for the burst's assignment nodes, then their records packed by size.
    const burst = await readBurst(session, paths, entries, (k) => this.seen.wasHeld(k));
    if (stale() || !this.accepting) return;
    const { toStart, toRun } = takeBurst(intake, burst.reads);
    this.log.debug({ listed: listed.size, read: entries.length, toStart: toStart.length, toRun: toRun.length }, `intake: ${entries.length} new assignment${entries.length === 1 ? '' : 's'} read, ${toStart.length} to start`);
    for (const a of [...toStart, ...toRun]) {
      this.left.rerun(a.key);
      this.attempts.set(a.key, a);
    }
    for (const a of [...(await this.startAll(toStart)), ...toRun]) this.run(a);
    // What a failed request was to read is neither held nor seen: read again soon (onError).
    if (burst.failed !== undefined) throw burst.failed;
  }

  /** Leaves the in-flight set. `ignore`: do not read this assignment again while it exists. */
  private finish(a: Attempt, ignore = true): void {
    if (a.over) return;
    a.over = true;
    a.progress.close();
    this.attempts.delete(a.key);
    if (ignore && a.member === this.watchedMember) this.seen.ignore(a.key);
    a.resolveFinished();
  }

  /**
   * An assignment we could not carry through (a start or commit refused again and again, an
   * unexpected error) stays ours while we live, and the leader takes back only what has a
   * deadline: look at it again later rather than ignore it for good.
   */
  private lookAgainLater(key: string): void {
    setTimeout(() => {
      if (this.seen.unignore(key)) this.refresher.kick();
    }, RETRY_LEFT_MS).unref();
  }

  // ---- start -------------------------------------------------------------------------------

  /**
   * Marks a burst running. An attempt that does not start (verdict stale: the assignment went
   * or moved; stuck; unreadable) never ran: it gets no attempt line, no metric, no event (stuck
   * warns; the others are routine races with the leader, read again or let go).
   */
  private async startAll(list: Attempt[]): Promise<Attempt[]> {
    const verdicts = await markStarted({ tx: { session: this.session, paths: this.paths }, reads: this.commits.reads, log: this.log }, list);
    return list.filter((a, i) => {
      const v = verdicts[i];
      const rec = a.cur.record;
      if (v === 'started') this.opts.metrics?.started(rec.type, rec.runAt ?? rec.createdAt, rec.startedAt ?? Date.now()); // a delayed task: from its time
      if (v === 'unreadable') {
        this.finish(a, false);
        setTimeout(() => this.refresher.kick(), 300).unref();
      } else if (v === 'stale') {
        this.finish(a);
      } else if (v === 'stuck') {
        a.log.warn(`cannot mark the task running after 3 tries; looking again in ${RETRY_LEFT_MS} ms`);
        this.finish(a);
        this.lookAgainLater(a.key);
      }
      return v === 'started';
    });
  }

  // ---- run and commit ----------------------------------------------------------------------

  private run(a: Attempt): void {
    void (async () => {
      const res = await this.queue.add(() =>
        executeAttempt({
          record: a.cur.record,
          handlers: this.opts.handlers,
          workerName: a.member,
          controller: a.controller,
          limits: this.opts.limits,
          log: a.log,
          progress: (v) => a.progress.report(v),
          parents: parentsReader(this.session, this.paths, a.cur.record),
          onStart: () => {
            a.log.debug({ type: a.cur.record.type }, 'started');
            this.opts.report.started({ taskId: a.taskId, attempt: a.attempt });
          },
        }),
      );
      a.settling = true;
      if (res.aborted) a.log.debug({ reason: res.outcome.kind === 'failure' ? res.outcome.error.message : '' }, 'attempt aborted');
      if (res.aborted === 'stopping') {
        // Not committed: the assignment stays and the leader reclaims it when our member node goes.
        this.finish(a, false);
        this.opts.report.ended(attemptEnded(a, res, undefined, this.opts.metrics));
        return;
      }
      // Its assignment is gone: a finish could only be fenced by it, so none is sent.
      if (res.aborted === 'withdrawn') this.settled(a, res, await withdrawnAttempt(this.commits, a), false);
      else this.settled(a, res, await commitAttempt(this.commits, a, res.outcome), true);
    })()
      .catch((err) => {
        a.log.error({ err: (err as Error).message }, `attempt failed unexpectedly; looking again in ${RETRY_LEFT_MS} ms`);
        this.finish(a);
        this.lookAgainLater(a.key);
      })
      .finally(() => this.finish(a));
  }

  /** `sent`: a commit was sent (a withdrawn attempt's is not: its fence is known gone). */
  private settled(a: Attempt, res: ExecuteResult, r: CommitResult, sent: boolean): void {
    if (r.kind === 'left') {
      // Not over: the assignment is read and run again later, and that run reports the attempt;
      // if none comes, reportLeft says it was abandoned.
      this.left.add(a.key, () => this.opts.report.ended(attemptEnded(a, res, { kind: 'abandoned', reason: 'commit refused repeatedly; not run again here' }, this.opts.metrics)));
      this.finish(a);
      this.lookAgainLater(a.key);
      return;
    }
    reportSettled(this.opts, a, res, r, sent);
  }

  /** A record that does not parse cannot run: fail it, fenced by our assignment like any commit. */
  private async failMalformed(held: HeldAttempt, reason: string, version: number, log: Logger): Promise<void> {
    const { assignment: key, taskId, attempt } = held;
    const r = await failMalformed(this.session, this.paths, held, reason, version, log);
    if (r === 'committed') {
      this.opts.report.committed({ taskId, attempt, state: 'failed' });
      // Its type is not known (the record does not parse): counted as "other".
      this.opts.metrics?.ended('', 'failed', 0);
    }
    else if (r === 'unknown') {
      // Read it again on the next listing.
      this.seen.unignore(key);
      setTimeout(() => this.refresher.kick(), 300).unref();
    } else if (r === 'refused') this.lookAgainLater(key);
  }
}
