// The leader's picture without the rest of a leadership: a real election win (its fence), the
// membership observer and the reconciler wired as leadership.ts wires them, and a "round" that
// does only the picture's part (the view settled, dirty members refreshed). For tests that
// count the requests the picture costs.
import { EventEmitter } from 'node:events';
import type { Paths } from '../../shared/protocol/paths.js';
import { Coalescer } from '../../shared/util/coalescer.js';
import { LeaderElection, type LeaderHandle } from '../../shared/zk/election.js';
import { MembershipObserver } from '../../shared/zk/membership.js';
import type { Op, ZkSession } from '../../shared/zk/session.js';
import type { LeaderContext, LeadershipEvents, LeadershipOptions } from '../../master/leader-context.js';
import { Reconciler } from '../../master/reconcile.js';
import { testLog } from './zk.js';
import { waitFor } from './wait-for.js';

export class LeaderStage extends EventEmitter<LeadershipEvents> implements LeaderContext {
  readonly log = testLog;
  readonly opts: LeadershipOptions = { retentionMs: 86_400_000, timeoutGraceMs: 5000, assignBatch: 100, retentionIntervalMs: 60_000 };
  readonly observer: MembershipObserver;
  readonly reconciler: Reconciler;
  connectedSince = Date.now();
  stopped = false;
  /** Refresh rounds run, and the last one's error. */
  rounds = 0;
  lastError: unknown;
  /** Rounds wait for the rebuild, as the leadership's do. */
  private ready = false;
  private readonly refresher: Coalescer;

  private constructor(
    readonly session: ZkSession,
    readonly paths: Paths,
    readonly handle: LeaderHandle,
    private readonly election: LeaderElection,
  ) {
    super();
    this.observer = new MembershipObserver(session, paths, testLog);
    this.reconciler = new Reconciler(this, this.observer);
    this.refresher = new Coalescer(
      async () => {
        if (this.stopped || !this.ready) return;
        this.rounds++;
        await this.observer.settled();
        if (this.reconciler.hasDirty) await this.reconciler.refreshMembers();
      },
      (err) => {
        this.lastError = err;
        if (!this.stopped) setTimeout(() => this.kick(), 100).unref();
      },
    );
    this.observer.on('join', (m) => {
      this.reconciler.markDirty(m.name);
      this.kick();
    });
    this.observer.on('leave', (name) => {
      this.reconciler.markDirty(name);
      this.kick();
    });
  }

  /** Wins the election on `session` (a fresh root: nobody else runs), then builds the picture. */
  static async start(session: ZkSession, paths: Paths): Promise<LeaderStage> {
    const election = new LeaderElection(session, paths.election, 'stage', testLog);
    const won = new Promise<LeaderHandle>((r) => election.once('leader', r));
    election.start();
    const stage = new LeaderStage(session, paths, await won, election);
    await stage.observer.start();
    await stage.reconciler.rebuild();
    stage.ready = true;
    stage.kick();
    return stage;
  }

  fence(): Op {
    return this.handle.fence();
  }
  kick(): void {
    if (!this.stopped) this.refresher.kick();
  }

  /** Waits until a round has run since now and none is running. */
  async settle(timeoutMs = 10_000): Promise<void> {
    const from = this.rounds;
    this.kick();
    await waitFor(() => this.rounds > from, { timeoutMs, intervalMs: 5, message: 'a picture round' });
    await this.refresher.settled();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.observer.stop();
    await this.reconciler.stop();
    await this.refresher.settled();
    await this.election.stop();
  }
}
