// The worker: registers as a member, watches its own assignment directory, runs what the
// leader assigns (at most `concurrency` at once) and commits each outcome in one multi fenced
// by deleting its own assignment node. It never decides who runs what; it only obeys znodes.
import { EventEmitter } from 'node:events';
import PQueue from 'p-queue';
import { silentLogger, type Logger } from '../shared/log.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { Paths, assertWorkerId } from '../shared/protocol/paths.js';
import { failMalformedOps, finishOps, startOps, type Outcome, type VersionedRecord } from '../shared/protocol/task-ops.js';
import { checkLimits, malformedStandIn, type SizeLimits, type TaskRecord } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import { readTask } from '../shared/protocol/task-store.js';
import { Coalescer, sleep } from '../shared/util/coalescer.js';
import { ConnectionLossError, NoNodeError, SessionExpiredError, ZkError } from '../shared/zk/errors.js';
import { WorkerRegistration } from '../shared/zk/membership.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import { ZkSession, type OpResult } from '../shared/zk/session.js';
import { failpoint } from '../shared/util/failpoints.js';
import { AttemptAbortedError, executeAttempt, type AbortKind } from './executor.js';
import { builtinHandlers, type HandlerMap } from './handlers.js';

export interface WorkerOptions {
  /** ZooKeeper host:port list; needed unless `session` is given. */
  connectString?: string;
  /** A session to share; the worker never closes it. */
  session?: ZkSession;
  /** drover root znode. Default '/drover'. */
  root?: string;
  /** Worker id (the member name adds the session as incarnation). */
  id: string;
  /** Attempts run at once; advertised as the member's capacity. Default 4. */
  concurrency?: number;
  /** Merged over the built-ins (echo, sleep, fail). */
  handlers?: HandlerMap;
  labels?: Record<string, string>;
  /** How long stop() waits for running attempts before aborting them. Default 30000. */
  gracePeriodMs?: number;
  /** For a session the worker opens. Default 6000. */
  sessionTimeoutMs?: number;
  limits?: Partial<SizeLimits>;
  log?: Logger;
}

export type WorkerState = 'initialized' | 'running' | 'draining' | 'stopped' | 'failed';

export interface WorkerStats {
  /** Handlers invoked. */
  started: number;
  /** Outcomes committed (including malformed records failed by this worker). */
  committed: number;
  /** Commits refused by the fence (the task was cancelled or reclaimed). */
  fenced: number;
}

export interface WorkerEvents {
  state: [state: WorkerState, previous: WorkerState];
  started: [{ taskId: string; attempt: number }];
  committed: [{ taskId: string; attempt: number; state: TaskState }];
  fenced: [{ taskId: string; attempt: number; reason: string }];
}

export class WorkerOptionError extends Error {
  override name = 'WorkerOptionError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    why: string,
  ) {
    super(`invalid worker option ${field} = ${JSON.stringify(value)}: ${why}`);
  }
}

const PROGRESS_INTERVAL_MS = 250;
/** How long an assignment we could not carry through waits before we look at it again. */
const RETRY_LEFT_MS = 5000;

interface Attempt {
  /** Full path of the assignment node: the fence of this attempt. */
  key: string;
  member: string;
  taskId: string;
  attempt: number;
  /** Latest record (and its version) this worker wrote or read. */
  cur: VersionedRecord;
  controller: AbortController;
  log: Logger;
  finished: Promise<void>;
  resolveFinished: () => void;
  over: boolean;
  progress: { lastWrite: number; pending?: { value: unknown; at: number }; timer?: NodeJS.Timeout; base?: Record<string, unknown> };
}

type Verdict = 'committed' | 'retry' | 'give-up' | { fenced: string };

function intOption(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new WorkerOptionError(field, v, `must be an integer in ${min}..${max}`);
  }
  return v;
}

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly root: string;
  readonly concurrency: number;
  readonly gracePeriodMs: number;
  private readonly connectString?: string;
  private readonly sessionTimeoutMs: number;
  private readonly handlers: HandlerMap;
  private readonly labels: Record<string, string>;
  private readonly limits: SizeLimits;
  private readonly log: Logger;
  /** The caller's logger: the session and membership take their own children of it. */
  private readonly rootLog: Logger;

  private session?: ZkSession;
  private readonly ownsSession: boolean;
  private paths?: Paths;
  private registration?: WorkerRegistration;
  private readonly queue: PQueue;
  private readonly refresher: Coalescer;
  /** In-flight attempts by assignment path (from first sight to commit/fence/give-up). */
  private readonly attempts = new Map<string, Attempt>();
  /** Assignment paths already handled or found stale: not read again while they exist. */
  private readonly ignored = new Set<string>();
  private dirWatchers!: StableWatchers;
  /** The member name whose assignment directory is watched (the current incarnation). */
  private watchedMember: string | null = null;
  private accepting = false;
  /** Set when stopping: no more listings, commits stop retrying. */
  private giveUp = false;
  private _state: WorkerState = 'initialized';
  private readonly _stats: WorkerStats = { started: 0, committed: 0, fenced: 0 };
  private startPromise?: Promise<void>;
  private stopPromise?: Promise<void>;

  constructor(opts: WorkerOptions) {
    super();
    if (opts === null || typeof opts !== 'object') throw new WorkerOptionError('options', opts, 'must be an object');
    try {
      assertWorkerId(opts.id);
    } catch (err) {
      throw new WorkerOptionError('id', opts.id, (err as Error).message);
    }
    this.id = opts.id;
    this.root = opts.root ?? '/drover';
    try {
      new Paths(this.root);
    } catch (err) {
      throw new WorkerOptionError('root', opts.root, (err as Error).message);
    }
    if (!opts.session && (typeof opts.connectString !== 'string' || opts.connectString === '')) {
      throw new WorkerOptionError('connectString', opts.connectString, 'give a connect string (host:port) or a session');
    }
    this.connectString = opts.connectString;
    this.concurrency = intOption('concurrency', opts.concurrency ?? 4, 1, 1000);
    this.gracePeriodMs = intOption('gracePeriodMs', opts.gracePeriodMs ?? 30_000, 0, 86_400_000);
    this.sessionTimeoutMs = intOption('sessionTimeoutMs', opts.sessionTimeoutMs ?? 6000, 100, 600_000);
    for (const [type, fn] of Object.entries(opts.handlers ?? {})) {
      if (typeof fn !== 'function') throw new WorkerOptionError(`handlers.${type}`, typeof fn, 'must be a function');
    }
    this.handlers = { ...builtinHandlers, ...opts.handlers };
    const labels = opts.labels ?? {};
    if (typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
      throw new WorkerOptionError('labels', labels, 'must be an object of string values');
    }
    this.labels = { ...labels };
    try {
      this.limits = checkLimits(opts.limits);
    } catch (err) {
      throw new WorkerOptionError('limits', opts.limits, (err as Error).message);
    }
    this.session = opts.session;
    this.ownsSession = !opts.session;
    this.rootLog = opts.log ?? silentLogger;
    this.log = this.rootLog.child({ component: 'worker', workerId: this.id });
    this.queue = new PQueue({ concurrency: this.concurrency });
    this.refresher = new Coalescer(
      () => this.refresh(),
      (err) => {
        if (this.giveUp) return;
        // Expiry is handled by the new incarnation's listing; anything else: look again soon.
        if (err instanceof SessionExpiredError) return;
        this.log.warn({ err: (err as Error).message }, 'reading assignments failed; retrying');
        setTimeout(() => this.refresher.kick(), 300).unref();
      },
    );
  }

  get state(): WorkerState {
    return this._state;
  }
  /** workerId~incarnation of the current registration; null before start. */
  get memberName(): string | null {
    return this.registration?.memberName ?? null;
  }
  get inFlight(): number {
    return this.attempts.size;
  }
  get stats(): Readonly<WorkerStats> {
    return { ...this._stats };
  }

  private setState(next: WorkerState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    this.log.info({ state: next, previous: prev }, `worker ${next}`);
    this.emit('state', next, prev);
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  start(): Promise<void> {
    if (this._state !== 'initialized' || this.startPromise) {
      return Promise.reject(new Error(`cannot start worker ${this.id}: it is ${this.startPromise && this._state === 'initialized' ? 'starting' : this._state}`));
    }
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    try {
      if (!this.session) {
        this.session = await ZkSession.open({ connectString: this.connectString!, sessionTimeoutMs: this.sessionTimeoutMs, log: this.rootLog.child({ workerId: this.id }) });
      }
      this.paths = await ensureLayout(this.session, this.root);
      this.dirWatchers = new StableWatchers(this.session);
      this.session.on('expired', this.onExpired);
      this.registration = new WorkerRegistration(this.session, this.paths, { id: this.id, capacity: this.concurrency, labels: this.labels }, this.rootLog);
      this.registration.on('incarnation', this.onIncarnation);
      await this.registration.register();
      this.accepting = true;
      this.refresher.kick();
      await this.refresher.settled();
      await this.registration.setState('alive');
      this.setState('running');
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'worker failed to start');
      this.setState('failed');
      await this.release();
      throw err;
    }
  }

  /**
   * Drains: member state 'draining' (the leader assigns nothing more), waits up to
   * gracePeriodMs for running attempts, aborts the rest (the leader reclaims them once the
   * member node is gone), deregisters and closes its own session. Idempotent.
   */
  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    if (this._state === 'initialized' && !this.startPromise) {
      return Promise.reject(new Error(`cannot stop worker ${this.id}: it is initialized and was never started`));
    }
    this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    await this.startPromise?.catch(() => undefined);
    if (this._state === 'running') {
      this.setState('draining');
      await this.registration?.setState('draining').catch((err) => this.log.warn({ err: (err as Error).message }, 'cannot publish draining state'));
      // Still taking what arrives: an assignment made before the leader saw 'draining' would
      // otherwise be reclaimed as worker-lost once we leave, using up an attempt unrun.
      const deadline = Date.now() + this.gracePeriodMs;
      for (;;) {
        while (this.attempts.size > 0 && Date.now() < deadline) {
          await settledWithin([...this.attempts.values()].map((a) => a.finished), deadline - Date.now());
        }
        if (this.attempts.size > 0 || Date.now() >= deadline) break;
        // Idle: one last look at our directory before leaving.
        this.refresher.kick();
        await this.refresher.settled();
        if (this.attempts.size === 0) break;
      }
      this.accepting = false;
      if (this.attempts.size > 0) {
        this.log.warn({ inFlight: this.attempts.size, gracePeriodMs: this.gracePeriodMs }, 'grace period over; aborting running attempts');
        this.abortAll('stopping', `worker ${this.id} stopping`);
      }
    }
    await this.release();
    this.setState('stopped');
  }

  /** Stops listening, deregisters, closes an owned session; lets pending commits give up. */
  private async release(): Promise<void> {
    this.giveUp = true;
    this.accepting = false;
    this.watchedMember = null;
    this.session?.off('expired', this.onExpired);
    this.registration?.off('incarnation', this.onIncarnation);
    await this.registration?.close().catch((err) => this.log.warn({ err: (err as Error).message }, 'cannot delete member node'));
    if (this.ownsSession) await this.session?.close();
    const left = [...this.attempts.values()].map((a) => a.finished);
    if (left.length > 0) await settledWithin([Promise.all(left)], this.session?.requestTimeoutMs ?? 1000);
  }

  private readonly onExpired = (): void => {
    if (this.attempts.size > 0) this.log.warn({ inFlight: this.attempts.size }, 'session lost; aborting running attempts');
    this.abortAll('session-lost', 'session lost');
  };

  private readonly onIncarnation = (member: string, previous: string | null): void => {
    // Only the new directory is ours; the old one belongs to a dead incarnation the leader reclaims.
    this.watchedMember = member;
    this.ignored.clear();
    if (previous) this.log.info({ member, previous }, 'new incarnation; watching its assignments');
    this.refresher.kick();
  };

  private abortAll(kind: AbortKind, message: string): void {
    for (const a of this.attempts.values()) {
      if (!a.controller.signal.aborted) a.controller.abort(new AttemptAbortedError(kind, message));
    }
  }

  // ---- assignments -------------------------------------------------------------------------

  private async refresh(): Promise<void> {
    const session = this.session!;
    const paths = this.paths!;
    const member = this.watchedMember;
    if (!member || this.giveUp || session.state === 'expired' || session.state === 'closed') return;
    const dir = paths.assignDir(member);
    let children: string[];
    const watcher = this.dirWatchers.get(member, () => () => {
      if (this.watchedMember === member && !this.giveUp) this.refresher.kick();
    });
    try {
      ({ children } = await session.retrying(() => session.getChildren(dir, watcher)));
    } catch (err) {
      // Our directory is gone while we are registered: without it no leader assigns to us.
      if (err instanceof NoNodeError && member === this.watchedMember && (await this.registration?.restoreAssignDir())) {
        this.refresher.kick();
        return;
      }
      throw err;
    }
    if (member !== this.watchedMember) return;
    const present = new Set(children.map((n) => `${dir}/${n}`));
    for (const a of this.attempts.values()) {
      if (a.member === member && !present.has(a.key) && !a.controller.signal.aborted) {
        a.log.info('assignment withdrawn; aborting the attempt');
        a.controller.abort(new AttemptAbortedError('withdrawn', 'assignment withdrawn: cancelled or reclaimed'));
      }
    }
    for (const k of this.ignored) if (!present.has(k)) this.ignored.delete(k);
    if (!this.accepting) return;

    const fresh = [...present].filter((k) => !this.attempts.has(k) && !this.ignored.has(k));
    if (fresh.length === 0) return;
    const reads = await Promise.all(
      fresh.map(async (key) => {
        const parsed = Paths.parseAssignment(key.slice(dir.length + 1));
        return { key, parsed, read: parsed ? await readTask(session, paths, parsed.taskId) : null };
      }),
    );
    if (member !== this.watchedMember || !this.accepting) return;
    const toStart: Attempt[] = [];
    const toRun: Attempt[] = [];
    for (const { key, parsed, read } of reads) {
      if (!parsed || !read) {
        this.log.warn({ assignment: key }, 'unparseable assignment name; ignored');
        this.ignored.add(key);
        continue;
      }
      const alog = this.log.child({ taskId: parsed.taskId, attempt: parsed.attempt });
      if (read.kind === 'missing') {
        alog.warn('assignment for a missing task record; stale, left to the leader');
        this.ignored.add(key);
      } else if (read.kind === 'malformed') {
        this.ignored.add(key);
        void this.failMalformed(key, parsed.taskId, parsed.attempt, read.reason, read.version, alog);
      } else {
        const rec = read.record;
        if (rec.worker !== member || rec.attempt !== parsed.attempt || (rec.state !== 'assigned' && rec.state !== 'running')) {
          alog.info({ state: rec.state, recordAttempt: rec.attempt, recordWorker: rec.worker }, 'stale assignment ignored (left to the leader)');
          this.ignored.add(key);
          continue;
        }
        const a = this.newAttempt(key, member, parsed.taskId, parsed.attempt, { record: rec, version: read.version }, alog);
        alog.info({ type: rec.type, state: rec.state }, 'assignment received');
        (rec.state === 'assigned' ? toStart : toRun).push(a);
      }
    }
    for (const a of [...(await this.markStarted(toStart)), ...toRun]) this.run(a);
  }

  private newAttempt(key: string, member: string, taskId: string, attempt: number, cur: VersionedRecord, log: Logger): Attempt {
    let resolveFinished!: () => void;
    const finished = new Promise<void>((r) => (resolveFinished = r));
    const a: Attempt = {
      key,
      member,
      taskId,
      attempt,
      cur,
      controller: new AbortController(),
      log,
      finished,
      resolveFinished,
      over: false,
      progress: { lastWrite: 0 },
    };
    this.attempts.set(key, a);
    return a;
  }

  /** Leaves the in-flight set. `ignore`: do not read this assignment again while it exists. */
  private finish(a: Attempt, ignore = true): void {
    if (a.over) return;
    a.over = true;
    if (a.progress.timer) clearTimeout(a.progress.timer);
    this.attempts.delete(a.key);
    if (ignore && a.member === this.watchedMember) this.ignored.add(a.key);
    a.resolveFinished();
  }

  /**
   * An assignment we could not carry through (a start or commit refused again and again, an
   * unexpected error) stays ours while we live, and the leader takes back only what has a
   * deadline: look at it again later rather than ignore it for good.
   */
  private lookAgainLater(key: string): void {
    setTimeout(() => {
      if (this.ignored.delete(key)) this.refresher.kick();
    }, RETRY_LEFT_MS).unref();
  }

  private isOurs(a: Attempt, rec: TaskRecord): boolean {
    return rec.worker === a.member && rec.attempt === a.attempt && (rec.state === 'assigned' || rec.state === 'running');
  }

  /** Marks attempts running: one multi for the batch, one by one if it is refused. */
  private async markStarted(list: Attempt[]): Promise<Attempt[]> {
    if (list.length === 0) return [];
    if (list.length > 1) {
      const now = Date.now();
      const trs = list.map((a) => startOps(this.paths!, a.cur, now));
      try {
        const res = await this.session!.multi(trs.flatMap((t) => t.ops));
        list.forEach((a, i) => (a.cur = { record: trs[i]!.next, version: versionAt(res, 2 * i + 1) }));
        return list;
      } catch (err) {
        this.log.debug({ err: (err as Error).message, count: list.length }, 'batched start refused; starting one by one');
      }
    }
    const started: Attempt[] = [];
    for (const a of list) if (await this.startOne(a)) started.push(a);
    return started;
  }

  private async startOne(a: Attempt): Promise<boolean> {
    for (let i = 0; i < 3; i++) {
      try {
        const tr = startOps(this.paths!, a.cur, Date.now());
        const res = await this.session!.multi(tr.ops);
        a.cur = { record: tr.next, version: versionAt(res, 1) };
        return true;
      } catch (err) {
        // Refused, or unknown (connection loss): the record says whether it went through.
        const read = await readTask(this.session!, this.paths!, a.taskId).catch(() => null);
        if (!read) {
          a.log.warn({ err: (err as Error).message }, 'cannot mark the task running; will look again');
          this.finish(a, false);
          setTimeout(() => this.refresher.kick(), 300).unref();
          return false;
        }
        if (read.kind === 'ok' && this.isOurs(a, read.record)) {
          a.cur = { record: read.record, version: read.version };
          if (read.record.state === 'running') return true;
          continue;
        }
        a.log.info({ err: (err as Error).message }, 'assignment went stale before it started; ignored');
        this.finish(a);
        return false;
      }
    }
    a.log.warn(`cannot mark the task running after 3 tries; looking again in ${RETRY_LEFT_MS} ms`);
    this.finish(a);
    this.lookAgainLater(a.key);
    return false;
  }

  private run(a: Attempt): void {
    void (async () => {
      const res = await this.queue.add(() =>
        executeAttempt({
          record: a.cur.record,
          handlers: this.handlers,
          workerName: a.member,
          controller: a.controller,
          limits: this.limits,
          log: a.log,
          progress: (v) => this.progress(a, v),
          onStart: () => {
            this._stats.started += 1;
            a.log.info('started');
            this.emit('started', { taskId: a.taskId, attempt: a.attempt });
          },
        }),
      );
      if (res.aborted) a.log.info({ reason: res.outcome.kind === 'failure' ? res.outcome.error.message : '' }, 'attempt aborted');
      if (res.aborted === 'stopping') {
        // Not committed: the assignment stays and the leader reclaims it when our member node goes.
        this.finish(a, false);
        return;
      }
      if ((await this.commit(a, res.outcome)) === 'left') {
        this.finish(a);
        this.lookAgainLater(a.key);
      }
    })()
      .catch((err) => {
        a.log.error({ err: (err as Error).message }, `attempt failed unexpectedly; looking again in ${RETRY_LEFT_MS} ms`);
        this.finish(a);
        this.lookAgainLater(a.key);
      })
      .finally(() => this.finish(a));
  }

  // ---- commit ------------------------------------------------------------------------------

  /** One multi fenced by removing our assignment node; retried only while the task is still ours. */
  private async commit(a: Attempt, outcome: Outcome): Promise<'done' | 'left'> {
    let refusals = 0;
    for (;;) {
      if (this.giveUp) {
        a.log.warn('worker stopped before the commit was confirmed; left to the leader');
        return 'done';
      }
      const tr = finishOps(this.paths!, a.cur, outcome, Date.now());
      failpoint('worker.before-commit');
      try {
        await this.session!.multi(tr.ops);
        failpoint('worker.after-commit');
        this.committed(a, tr.next.state);
        return 'done';
      } catch (err) {
        if (!(err instanceof ZkError)) throw err;
        if (err instanceof NoNodeError && err.opIndex === 0) {
          this.fenced(a, 'assignment gone (cancelled or reclaimed)');
          return 'done';
        }
        const unknownOutcome = err instanceof ConnectionLossError || err instanceof SessionExpiredError;
        if (!unknownOutcome && ++refusals > 5) {
          a.log.error({ err: err.message }, `commit refused repeatedly; looking again in ${RETRY_LEFT_MS} ms`);
          return 'left';
        }
        a.log.info({ err: err.message, opIndex: err.opIndex }, unknownOutcome ? 'commit outcome unknown; checking' : 'commit refused; checking');
        const v = await this.verify(a, tr.next);
        if (v === 'committed') {
          this.committed(a, tr.next.state);
          return 'done';
        }
        if (v === 'give-up') {
          a.log.warn('session closed before the commit was confirmed; left to the leader');
          return 'done';
        }
        if (v !== 'retry') {
          this.fenced(a, v.fenced);
          return 'done';
        }
      }
    }
  }

  /** After a refused or unknown commit: has it happened, is the task still ours, or are we fenced? */
  private async verify(a: Attempt, next: TaskRecord): Promise<Verdict> {
    const session = this.session!;
    for (;;) {
      if (this.giveUp || session.state === 'closed') return 'give-up';
      try {
        await session.waitConnected();
        const [read, assigned] = await Promise.all([readTask(session, this.paths!, a.taskId), session.exists(a.key)]);
        if (read.kind !== 'ok') return { fenced: `task record is ${read.kind}` };
        if (!assigned && JSON.stringify(read.record) === JSON.stringify(next)) return 'committed';
        if (!assigned) return { fenced: 'assignment gone (cancelled or reclaimed)' };
        if (!this.isOurs(a, read.record)) {
          return { fenced: `record now ${read.record.state}, attempt ${read.record.attempt}, worker ${read.record.worker}` };
        }
        a.cur = { record: read.record, version: read.version };
        return 'retry';
      } catch (err) {
        a.log.debug({ err: (err as Error).message }, 'waiting for ZooKeeper to confirm the commit');
        await sleep(200);
      }
    }
  }

  private committed(a: Attempt, state: TaskState): void {
    this._stats.committed += 1;
    a.log.info({ state }, `committed: ${state}`);
    this.emit('committed', { taskId: a.taskId, attempt: a.attempt, state });
  }

  private fenced(a: Attempt, reason: string): void {
    this._stats.fenced += 1;
    a.log.warn({ reason }, `commit fenced for task ${a.taskId} attempt ${a.attempt}: ${reason}`);
    this.emit('fenced', { taskId: a.taskId, attempt: a.attempt, reason });
  }

  /** A record that does not parse cannot run: fail it, fenced by our assignment like any commit. */
  private async failMalformed(key: string, taskId: string, attempt: number, reason: string, version: number, log: Logger): Promise<void> {
    const standIn = malformedStandIn(taskId, reason);
    try {
      await this.session!.multi(failMalformedOps(this.paths!, key, standIn, version));
      this._stats.committed += 1;
      log.warn({ reason }, 'malformed task record failed');
      this.emit('committed', { taskId, attempt, state: 'failed' });
    } catch (err) {
      if (err instanceof ConnectionLossError) {
        // Unknown: read it again on the next listing.
        this.ignored.delete(key);
        setTimeout(() => this.refresher.kick(), 300).unref();
      } else if (!(err instanceof ZkError && err.code === 'NO_NODE' && err.opIndex === 0)) {
        // Refused for another reason than our assignment being gone (the record moved): again later.
        this.lookAgainLater(key);
      }
      log.warn({ err: (err as Error).message, reason }, 'cannot fail a malformed task record');
    }
  }

  // ---- progress ----------------------------------------------------------------------------

  /** Throttled, fire-and-forget: the latest value within each 250 ms window is written. */
  private progress(a: Attempt, value: unknown): void {
    if (a.over) return;
    const p = a.progress;
    p.pending = { value, at: Date.now() };
    const wait = p.lastWrite + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) this.flushProgress(a);
    else if (!p.timer) {
      p.timer = setTimeout(() => {
        p.timer = undefined;
        this.flushProgress(a);
      }, wait);
      p.timer.unref();
    }
  }

  private flushProgress(a: Attempt): void {
    const p = a.progress;
    const pending = p.pending;
    if (!pending || a.over) return;
    p.pending = undefined;
    p.lastWrite = Date.now();
    const session = this.session!;
    void (async () => {
      if (!p.base) p.base = JSON.parse((await session.getData(a.key)).data.toString('utf8')) as Record<string, unknown>;
      const data = Buffer.from(JSON.stringify({ ...p.base, progress: pending.value, progressAt: pending.at }));
      // Capped like a result: an oversized write would cost the whole connection.
      if (data.length > this.limits.maxResultBytes) {
        a.log.warn({ bytes: data.length, limit: this.limits.maxResultBytes }, 'progress value too large; not written');
        return;
      }
      await session.setData(a.key, data);
    })().catch((err) => a.log.debug({ err: (err as Error).message }, 'progress write failed (ignored)'));
  }
}

/** Resolves when any of `promises` settles or after `ms`; leaves no timer behind to hold the process. */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  const timer = new AbortController();
  try {
    await Promise.race([...promises, sleep(ms, timer.signal)]);
  } finally {
    timer.abort();
  }
}

function versionAt(res: OpResult[], i: number): number {
  const r = res[i];
  if (r?.op !== 'setData') throw new Error(`multi result ${i} is not a setData`);
  return r.stat.version;
}
