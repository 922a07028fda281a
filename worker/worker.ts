// The worker's lifecycle: opens (or borrows) a session, registers as a member, lets its
// attempt runner (attempt-runner.ts) take what the leader assigns, and drains on stop. It
// never decides who runs what; it only obeys znodes. `drover drain <id>` (drain-watch.ts) runs
// the same stop as a signal would, and the worker removes the request as it leaves (just
// before its member node goes; not while another member of its id lives).
import { EventEmitter } from 'node:events';
import { silentLogger, type Logger } from '../shared/log.js';
import { ensureLayout, LayoutError } from '../shared/protocol/layout.js';
import { emitEach } from './emit-each.js';
import { layoutGone } from '../shared/protocol/layout-gone.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { Paths } from '../shared/protocol/paths.js';
import { ZkSession } from '../shared/zk/session.js';
import { AttemptRunner } from './attempt-runner.js';
import { DrainWatch } from './drain-watch.js';
import { workerConfig, type WorkerConfig, type WorkerOptions } from './options.js';
import { WorkerRegistration } from './registration.js';
import type { AttemptEnd } from './attempt-report.js';
import { workerMetrics, type WorkerMetrics } from './worker-metrics.js';
import type { HandlerMap } from './handlers.js';
import { sandboxedHandlers, type SandboxPool } from './sandbox/pool.js';
import { SandboxLoadError } from './sandbox/sandbox.js';
import type { WorkerEvents, WorkerState, WorkerStats } from './worker-types.js';

export { WorkerOptionError, type WorkerOptions } from './options.js';
export type { AttemptEnd, AttemptOutcomeLabel } from './attempt-report.js';
export type { WorkerCompletedEvent, WorkerEvents, WorkerFailedEvent, WorkerState, WorkerStats } from './worker-types.js';

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly root: string;
  readonly concurrency: number;
  readonly gracePeriodMs: number;
  /** Task types it handles (its handlers and the built-ins; a sandbox module's from start()), sorted: advertised in its member data. */
  get types(): readonly string[] {
    return this._types;
  }
  private _types: readonly string[];
  private handlers: HandlerMap;
  private sandboxes?: SandboxPool;
  private readonly config: WorkerConfig;
  private readonly log: Logger;
  /** The caller's logger: the session and membership take their own children of it. */
  private readonly rootLog: Logger;

  private session?: ZkSession;
  private readonly ownsSession: boolean;
  private paths?: Paths;
  private registration?: WorkerRegistration;
  private runner?: AttemptRunner;
  private readonly registry?: WorkerOptions['metrics'];
  private metrics?: WorkerMetrics;
  private _state: WorkerState = 'initialized';
  private readonly _stats: WorkerStats = { started: 0, committed: 0, fenced: 0 };
  private startPromise?: Promise<void>;
  private stopPromise?: Promise<void>;
  private drainWatch?: DrainWatch;
  private resolveStopped!: () => void;
  /** Resolves once the worker has stopped, however (stop(), a drain request: `drover drain`, or its root gone). */
  readonly whenStopped: Promise<void> = new Promise((r) => (this.resolveStopped = r));
  private goneWith!: (err: Error) => void;
  /**
   * Rejects when the worker cannot go on, as the Master's does: its root was destroyed while its
   * session was expired (re-registering found the directory gone). The CLI races it to exit 1.
   */
  readonly whenGone: Promise<never> = new Promise<never>((_, reject) => (this.goneWith = reject));

  constructor(opts: WorkerOptions) {
    super();
    this.config = workerConfig(opts);
    this.id = this.config.id;
    this.root = this.config.root;
    this.concurrency = this.config.concurrency;
    this.gracePeriodMs = this.config.gracePeriodMs;
    this.handlers = this.config.handlers;
    this._types = Object.keys(this.handlers).sort();
    this.session = opts.session;
    this.ownsSession = !opts.session;
    this.rootLog = opts.log ?? silentLogger;
    this.log = this.rootLog.child({ component: 'worker', workerId: this.id });
    this.registry = opts.metrics;
    // Handled here too: a library user who never awaits it must not get an unhandled rejection.
    this.whenGone.catch(() => undefined);
  }

  get state(): WorkerState {
    return this._state;
  }
  /** workerId~incarnation of the current registration; null before start. */
  get memberName(): string | null {
    return this.registration?.memberName ?? null;
  }
  get inFlight(): number {
    return this.runner?.inFlight ?? 0;
  }
  get stats(): Readonly<WorkerStats> {
    return { ...this._stats };
  }

  private setState(next: WorkerState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    // Running is said once, with what it takes, by doStart ('worker alive').
    if (next !== 'running') this.log.info({ state: next, previous: prev }, `worker ${next}`);
    this.tell('state', next, prev);
    if (next === 'stopped') this.resolveStopped();
  }

  start(): Promise<void> {
    if (this._state !== 'initialized' || this.startPromise) {
      return Promise.reject(new Error(`cannot start worker ${this.id}: it is ${this.startPromise && this._state === 'initialized' ? 'starting' : this._state}`));
    }
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    const c = this.config;
    try {
      if (!this.session) {
        this.session = await ZkSession.open({ connectString: c.connectString!, auth: c.auth, sessionTimeoutMs: c.sessionTimeoutMs, log: this.rootLog.child({ workerId: this.id }), metrics: this.registry });
      }
      const session = this.session;
      // Sandboxed handlers: the module's types are known once its first sandbox has loaded it.
      if (c.sandbox) {
        ({ handlers: this.handlers, pool: this.sandboxes } = await sandboxedHandlers(c.handlers, c.sandbox, this.concurrency, this.log, this.registry));
        this._types = Object.keys(this.handlers).sort();
      }
      this.paths = await ensureLayout(session, this.root);
      this.registration = new WorkerRegistration(session, this.paths, { id: this.id, capacity: this.concurrency, labels: c.labels, types: [...this.types] }, this.rootLog);
      const registration = this.registration;
      if (this.registry) this.metrics = workerMetrics(this.registry, { types: this.types, running: () => this.inFlight, capacity: this.concurrency });
      this.runner = new AttemptRunner({
        session,
        paths: this.paths,
        handlers: this.handlers,
        limits: c.limits,
        concurrency: this.concurrency,
        log: this.log,
        restoreAssignDir: () => registration.restoreAssignDir(),
        metrics: this.metrics,
        report: {
          started: (e) => {
            this._stats.started += 1;
            this.tell('started', e);
          },
          committed: (e) => {
            this._stats.committed += 1;
            this.tell('committed', e);
          },
          fenced: (e) => {
            this._stats.fenced += 1;
            this.tell('fenced', e);
          },
          ended: (e) => this.onEnded(e),
        },
      });
      session.on('expired', this.onExpired);
      registration.on('incarnation', this.onIncarnation);
      registration.once('gone', this.onGone);
      await registration.register();
      this.runner.setAccepting(true);
      await this.runner.listNow();
      // Asked to drain (now, or before it started): the same stop as a signal's.
      this.drainWatch = new DrainWatch(session, this.paths, this.id, this.log, () => {
        this.stop().catch((err) => this.log.error({ err: (err as Error).message }, 'drain failed'));
      });
      await this.drainWatch.start();
      await registration.setState('alive');
      this.setState('running');
      this.log.info({ member: registration.memberName, concurrency: this.concurrency, types: this.types }, 'worker alive');
    } catch (caught) {
      // NO_NODE while registering: the root went (a destroy) after the layout was read; said in
      // openLayout's words ("being destroyed", "no drover cluster") rather than as a raw NO_NODE.
      let err = caught;
      if (caught instanceof NoNodeError && this.session) err = (await layoutGone(this.session, this.root).catch(() => null)) ?? caught;
      // A LayoutError is the CLI's own one line: logging it too would print it twice.
      if (err instanceof LayoutError || err instanceof SandboxLoadError) this.log.debug({ err: err.message }, 'worker failed to start');
      else this.log.error({ err: (err as Error).message }, 'worker failed to start');
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
    const runner = this.runner;
    if (this._state === 'running' && runner) {
      this.setState('draining');
      await this.registration?.setState('draining').catch((err) => this.log.warn({ err: (err as Error).message }, 'cannot publish draining state'));
      // Still taking what arrives: an assignment made before the leader saw 'draining' would
      // otherwise be reclaimed unrun once we leave (a lost attempt and a needless round trip).
      const deadline = Date.now() + this.gracePeriodMs;
      for (;;) {
        while (runner.inFlight > 0 && Date.now() < deadline) await runner.anyFinished(deadline - Date.now());
        if (runner.inFlight > 0 || Date.now() >= deadline) break;
        // Idle: one last look at our directory before leaving.
        await runner.listNow();
        if (runner.inFlight === 0) break;
      }
      runner.setAccepting(false);
      if (runner.inFlight > 0) {
        this.log.warn({ inFlight: runner.inFlight, gracePeriodMs: this.gracePeriodMs }, 'grace period over; aborting running attempts');
        runner.abortAll('stopping', `worker ${this.id} stopping`);
      }
    }
    await this.release();
    this.setState('stopped');
  }

  /** Stops listening, deregisters, closes an owned session; lets pending commits give up. */
  private async release(): Promise<void> {
    await this.drainWatch?.finish();
    this.runner?.close();
    this.metrics?.detach();
    this.session?.off('expired', this.onExpired);
    this.registration?.off('incarnation', this.onIncarnation);
    this.registration?.off('gone', this.onGone);
    // Its attempts over: any drain request for this id is fulfilled. Removed while the member
    // node is still there: `drover drain --wait` returns on its deletion, and a start of this
    // id right after must not find the request and drain at once.
    await this.drainWatch?.removeRequest(this.memberName);
    await this.registration?.close().catch((err) => this.log.warn({ err: (err as Error).message }, 'cannot delete member node'));
    if (this.ownsSession) await this.session?.close();
    await this.runner?.allFinished(this.session?.requestTimeoutMs ?? 1000);
    await this.sandboxes?.close();
  }

  private tell<K extends keyof WorkerEvents>(event: K, ...args: WorkerEvents[K]): void {
    emitEach(this, this.log, event, args);
  }

  private onEnded(e: AttemptEnd): void {
    const { taskId: id, type, attempt, durationMs } = e;
    if (e.outcome === 'succeeded') this.tell('completed', { id, type, attempt, result: e.result, durationMs });
    else if (e.error && e.committed) this.tell('failed', { id, type, attempt, error: e.error, willRetry: e.willRetry === true, durationMs });
    this.tell('ended', e);
  }

  private readonly onExpired = (): void => {
    if (this.inFlight > 0) this.log.warn({ inFlight: this.inFlight }, 'session lost; aborting running attempts');
    this.runner?.abortAll('session-lost', 'session lost');
  };

  // The root went while our session was expired (destroy saw no live member): stop as a failed
  // start does, nothing to drain (the expiry fenced every attempt); whenGone carries the line,
  // also when a stop (a signal, a drain) was already under way.
  private readonly onGone = (err: Error): void => {
    this.log.debug({ err: err.message }, 'worker: the root is gone');
    this.goneWith(err);
    if (this.stopPromise) return;
    this.stopPromise = (async () => {
      try {
        await this.startPromise?.catch(() => undefined);
        // A start that failed meanwhile has released everything already.
        if (this._state !== 'failed') {
          this.setState('failed');
          await this.release();
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'worker: releasing after its root went');
      } finally {
        this.resolveStopped();
      }
    })();
  };

  private readonly onIncarnation = (member: string, previous: string | null): void => {
    // Only the new directory is ours; the old one belongs to a dead incarnation the leader reclaims.
    if (previous) this.log.info({ member, previous }, 'new incarnation; watching its assignments');
    this.runner?.watch(member);
  };
}
