// What the leading master does while it leads: rebuild the picture from ZooKeeper alone,
// reconcile, then keep it current with watches and assign, reclaim and purge. This file only
// wires the parts together and owns the life cycle: reconcile.ts (who holds what),
// assigner.ts (rounds and their timers), retention.ts (purge).
//
// Every write of the parts is a leader transition (shared/protocol/transitions.ts): one multi
// whose first op checks the leader's own election znode (the fence), so once this master is
// deposed (its session gone) nothing it sends can change anything. Nothing is kept only in memory: the picture (members, loads, queue,
// deadlines) can be thrown away at any instant and rebuilt by the next leader from the znodes.
import { EventEmitter } from 'node:events';
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { LeaderHandle } from '../shared/zk/election.js';
import { NoAuthBackoff } from '../shared/zk/auth-backoff.js';
import { SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';
import { MembershipObserver } from '../shared/zk/membership.js';
import type { Op, ZkSession } from '../shared/zk/session.js';
import { Coalescer } from '../shared/util/coalescer.js';
import { Assigner } from './assigner.js';
import { ControlWatch } from './control-watch.js';
import { DeposedError, type LeaderContext, type LeadershipEvents, type LeadershipOptions } from './leader-context.js';
import { LeaderStatusPublisher } from './leader-status.js';
import { PriorBuckets } from './limits-round.js';
import type { LeaderMetrics, LeaderPicture, WorkerStateLabel } from './master-metrics.js';
import { CachedRead, countFinished } from './master-sources.js';
import { MemberLog } from './member-log.js';
import { QueueIndex } from './queue-index.js';
import { QueueMirror, type ListingProgress } from './queue-mirror.js';
import { Reconciler } from './reconcile.js';
import { Retention } from './retention.js';
import { leaderServices, startServices, stopServices, type LeaderServices } from './leader-services.js';

export { DeposedError, type LeadershipEvents, type LeadershipOptions } from './leader-context.js';

/** What a new leader found when its picture was rebuilt (its 'elected leader' line). */
export interface TakeoverFigures {
  ms: number;
  membersMs: number;
  rebuiltMs: number;
  workers: number;
  queuedSoFar: number;
  listing: boolean;
  held: number;
}

export class Leadership extends EventEmitter<LeadershipEvents> implements LeaderContext {
  readonly log: Logger;
  /** Set once start() has rebuilt the picture. */
  takeover?: TakeoverFigures;
  private readonly finished: CachedRead<number>;
  private pictureCache?: { at: number; picture: LeaderPicture };
  private readonly observer: MembershipObserver;
  private readonly queue: QueueIndex;
  private readonly mirror: QueueMirror;
  private readonly reconciler: Reconciler;
  private readonly assigner: Assigner;
  private readonly retention: Retention;
  private readonly status: LeaderStatusPublisher;
  /** The previous leader's start-rate buckets (its leader-status), read first thing in start(). */
  private readonly prior: PriorBuckets;
  /** Pause and drain requests (control/): read before the first round, watched after. */
  private readonly control: ControlWatch;
  private readonly rounds: Coalescer;
  /** Dependency release and schedules (leader-services.ts): started once the picture is rebuilt. */
  private readonly services: LeaderServices;
  /** A refused round (NO_AUTH) is logged once and retried 1 s doubling to 60 s, not every 250 ms. */
  private readonly refusals: NoAuthBackoff;
  private _connectedSince = Date.now();
  private _stopped = false;
  /** Rounds wait for start()'s rebuild: a round racing it could count a member's load from a stale listing. */
  private ready = false;
  /**
   * Resets of the member view: expected (the connection dropped: its events are being missed)
   * and applied (a full view read since). Rounds place nothing in between, nor while the
   * reconciler's reset is pending: a worker that died during a cut is still in both.
   */
  private readonly viewResets = { expected: 0, applied: 0 };
  private readonly onSessionState = (s: string) => {
    if (s !== 'connected') {
      this.viewResets.expected++;
      this.reconciler.expectReset();
      return;
    }
    this._connectedSince = Date.now();
    this.kick();
  };
  private readonly onViewRead = () => {
    this.viewResets.applied = this.viewResets.expected;
    this.kick();
  };

  constructor(
    readonly session: ZkSession,
    readonly paths: Paths,
    readonly handle: LeaderHandle,
    readonly opts: LeadershipOptions,
    log: Logger,
    readonly metrics?: LeaderMetrics,
  ) {
    super();
    this.log = log.child({ component: 'leader', epoch: handle.epoch });
    this.refusals = new NoAuthBackoff(this.log);
    // The observer and the queue index take the caller's logger: pino would repeat `component`.
    this.observer = new MembershipObserver(session, paths, log);
    this.queue = new QueueIndex(paths.shardNames);
    this.mirror = new QueueMirror(session, paths, this.queue, log.child({ component: 'queue' }), () => this.kick());
    this.reconciler = new Reconciler(this, this.observer);
    this.control = new ControlWatch(session, paths, this.log, () => {
      this.queue.gate.setPaused(this.control.paused);
      this.queue.gate.setLimits(this.control.limits);
      this.kick();
      this.status.schedule();
    });
    this.prior = new PriorBuckets(this);
    this.assigner = new Assigner(this, this.observer, this.reconciler, this.queue, this.prior, () => this.mayPlace(), (m) => this.control.draining(m));
    this.retention = new Retention(this, (err) => this.onRoundError(err));
    this.status = new LeaderStatusPublisher(this, this.queue, () => this.prior.done);
    new MemberLog(this.observer, log.child({ component: 'members' }), (m) => this.reconciler.load(m));
    this.finished = new CachedRead(() => countFinished(session, paths));
    this.services = leaderServices(this);
    this.rounds = new Coalescer(
      () => this.round(),
      (err) => this.onRoundError(err),
    );
  }

  get stopped(): boolean {
    return this._stopped;
  }
  get connectedSince(): number {
    return this._connectedSince;
  }

  fence(): Op {
    return this.handle.fence();
  }

  /** Whether the picture covers what happened while the connection was down (see viewResets). */
  private mayPlace(): boolean {
    return this.session.state === 'connected' && this.viewResets.applied === this.viewResets.expected && !this.reconciler.resetPending && this.control.current;
  }

  /** Rebuilds the picture, then lets rounds run. A stop() meanwhile ends it early, with nothing left running. */
  async start(): Promise<void> {
    const t0 = Date.now();
    if (this._stopped) return;
    // From the start (a cut during the rebuild counts too); stop() takes it off.
    this.session.on('state', this.onSessionState);
    this.observer.on('change', this.onViewRead);
    this.observer.on('join', (m) => {
      this.reconciler.markDirty(m.name);
      this.kick();
    });
    this.observer.on('update', () => this.kick());
    this.observer.on('leave', (name) => {
      this.reconciler.markDirty(name);
      this.kick();
    });
    // Before anything can publish leader-status (the control watch schedules it): the previous
    // leader's account of its buckets, which this leader's first publish would overwrite.
    const prior = this.prior.read();
    prior.catch(() => undefined);
    // The queue's watch first: its listing runs in the background while members and
    // assignments are read, and rounds start from what is indexed so far once those are known.
    const armed = this.mirror.start();
    armed.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    // What is paused or draining, read before the first round (control-watch.ts).
    const control = this.control.start();
    control.catch(() => undefined);
    await this.observer.start();
    if (this._stopped) return;
    const membersMs = Date.now() - t0;
    await this.reconciler.rebuild();
    if (this._stopped) return;
    const rebuiltMs = Date.now() - t0;
    await armed;
    await control;
    await prior;
    // stop() may have come during any await above: it has run already, and removes nothing added after it.
    if (this._stopped) return;
    // Logged by the master, in its one line for this leadership ('elected leader').
    this.takeover = {
      ms: Date.now() - t0,
      membersMs,
      rebuiltMs,
      workers: this.observer.members().length,
      queuedSoFar: this.queue.size,
      listing: this.queue.listing,
      held: this.reconciler.heldCount(),
    };
    this.retention.start();
    this.ready = true;
    this.kick();
    await startServices(this, this.services.all);
  }

  /** Drops the picture; writes in flight are fenced anyway. */
  async stop(): Promise<void> {
    if (this._stopped) return;
    this._stopped = true;
    this.observer.stop();
    await this.control.stop();
    await this.mirror.stop();
    await this.reconciler.stop();
    this.session.off('state', this.onSessionState);
    this.assigner.stop();
    this.retention.stop();
    this.status.stop();
    await stopServices(this.services.all);
    await this.rounds.settled();
  }

  kick(): void {
    if (!this._stopped) this.rounds.kick();
  }

  /** The queue index's state (entries known, whether a listing runs, its progress) and the rounds' work (tests, logs). */
  queueState(): { size: number; listing: boolean; stats: QueueIndex['stats']; rounds: Assigner['stats'] } & ListingProgress {
    return { size: this.queue.size, listing: this.queue.listing, stats: { ...this.queue.stats }, rounds: { ...this.assigner.stats }, ...this.mirror.progress };
  }

  /** Runs retention now (tests and operators); returns how many tasks were purged. */
  purgeFinished(now = Date.now()): Promise<number> {
    return this.retention.purgeFinished(now);
  }

  /** What the metrics show, from memory (O(members) plus O(classes waiting)); taken once per scrape. */
  picture(): LeaderPicture {
    const now = Date.now();
    if (this.pictureCache && now - this.pictureCache.at < 250) return this.pictureCache.picture;
    const workers: Record<WorkerStateLabel, number> = { init: 0, alive: 0, draining: 0 };
    let capacity = 0;
    let load = 0;
    for (const m of this.observer.members()) {
      if (m.state in workers) workers[m.state as WorkerStateLabel]++;
      if (m.state !== 'alive') continue;
      capacity += m.capacity;
      load += this.reconciler.load(m.name);
    }
    const picture: LeaderPicture = {
      queueByBand: this.queue.byBand(),
      unplaceable: { ...this.queue.waitingByKind(), limit: this.queue.gate.limitedTasks() },
      unclassified: this.queue.unclassified,
      queued: this.queue.size,
      assigned: this.reconciler.heldTotal(),
      workers,
      capacity,
      load,
      dagWaiting: this.services.dag.size.children,
      schedules: this.services.scheduler.active,
    };
    this.pictureCache = { at: now, picture };
    return picture;
  }

  /** Finished tasks (done entries), read at most every 10 s, when asked. */
  finishedCount(): Promise<number | null> {
    return this.finished.get();
  }

  private async round(): Promise<void> {
    if (this._stopped || !this.ready || this.session.state !== 'connected') return;
    // Events kick rounds too: they must not undo the back-off (its timer kicks the next one).
    if (this.refusals.waiting) return;
    try {
      await this.assigner.round();
      this.refusals.succeeded();
    } finally {
      // The first round is done: the queue listing may take the whole connection now.
      this.mirror.widen();
      // What the queue waits for may have changed: publish it for status (throttled, only if changed).
      this.status.schedule();
    }
  }

  private onRoundError(err: unknown): void {
    if (this._stopped) return;
    if (err instanceof DeposedError) {
      // The master logs the step-down, once, with this reason.
      this.emit('deposed', `fence refused a write: ${err.message}`);
      return;
    }
    if (err instanceof SessionExpiredError || err instanceof SessionClosedError) return; // election reports it
    const ms = this.refusals.schedule(err, 250, () => this.kick());
    if (NoAuthBackoff.is(err)) {
      // Logged once per distinct refusal by the back-off; each try at debug only.
      this.log.debug({ err: err.message, retryInMs: ms }, 'leader round refused; backing off');
    } else this.log.warn({ err: (err as Error).message }, 'leader round failed; retrying');
    // Outcome unknown: re-read who holds what. The queue index needs nothing: the tree watch
    // reports what a write did, and a reconnect lists the queue again (queue-mirror.ts).
    this.reconciler.markAllDirty();
  }
}
