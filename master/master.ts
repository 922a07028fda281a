// A master process: a candidate in the election that, while it leads, runs a Leadership.
// Followers hold no picture and do nothing but wait, ready: everything a new leader needs
// is in ZooKeeper.
import { EventEmitter } from 'node:events';
import { DEFAULT_ROOT, DEFAULT_SESSION_TIMEOUT_MS } from '../shared/defaults.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { layoutGone } from '../shared/protocol/layout-gone.js';
import { assertWorkerId, DEFAULT_SHARDS, type Paths } from '../shared/protocol/paths.js';
import { LeaderElection, type LeaderHandle } from '../shared/zk/election.js';
import { candidacy } from './candidacy.js';
import { ZkSession, type ZkAuth } from '../shared/zk/session.js';
import type { Registry } from '../shared/metrics/registry.js';
import { Leadership } from './leadership.js';
import { masterMetrics, NO_MASTER_METRICS, type MasterMetrics } from './master-metrics.js';
import { CachedRead, readLeaderEpoch } from './master-sources.js';

export type MasterState = 'initialized' | 'following' | 'leading' | 'stopping' | 'stopped' | 'failed';

export interface MasterOptions {
  /** ZooKeeper connect string; ignored when `session` is given. */
  connectString?: string;
  /** A session to use (not closed by the master). */
  session?: ZkSession;
  /** ZooKeeper identities for the session it opens (ignored when `session` is given). */
  auth?: readonly ZkAuth[];
  /** Root znode of the cluster. Default '/drover' (DEFAULT_ROOT). */
  root?: string;
  /** Name of this master (logs, status). */
  id: string;
  /** Default 6000 ms (DEFAULT_SESSION_TIMEOUT_MS). The detection delay for a dead leader or worker. */
  sessionTimeoutMs?: number;
  /** Finished tasks are deleted this long after finishing. Default 24 h. */
  retentionMs?: number;
  /** How often retention runs. Default min(retentionMs / 2, 60 s). */
  retentionIntervalMs?: number;
  /** Leader's extra time past a task timeout before taking it back. Default max(2 s, session timeout). */
  timeoutGraceMs?: number;
  /** Tasks per assignment multi. Default 100. */
  assignBatch?: number;
  /** Shards of a new layout. Default 256. */
  shards?: number;
  log?: Logger;
  /** Where this master's drover_* metrics go; none when absent. */
  metrics?: Registry;
}

export interface MasterEvents {
  state: [state: MasterState];
  /** This master began leading (its picture is rebuilt). */
  leading: [epoch: number];
  /** This master stopped leading. */
  deposed: [reason: string];
}

export class Master extends EventEmitter<MasterEvents> {
  private readonly log: Logger;
  /** The caller's logger plus masterId: components take their own { component } child of it. */
  private readonly baseLog: Logger;
  private _state: MasterState = 'initialized';
  private session?: ZkSession;
  private ownsSession = false;
  private goneWith?: (err: Error) => void;
  /**
   * Rejects when the master cannot go on: its root was destroyed under it (the election
   * directory went with the layout). The CLI races it, so the process ends with that one line.
   */
  readonly whenGone: Promise<never> = new Promise<never>((_, reject) => {
    this.goneWith = reject;
  });
  // Handled here too: a library user who never awaits it must not get an unhandled rejection.
  private readonly _goneHandled = this.whenGone.catch(() => undefined);
  private paths?: Paths;
  private election?: LeaderElection;
  private leadership?: Leadership;
  private stopping?: Promise<void>;
  private readonly metrics: MasterMetrics;
  /** The caller's registry: also the session's, when the master opens its own. */
  private readonly registry?: Registry;
  private readonly opts: Required<Omit<MasterOptions, 'session' | 'connectString' | 'auth' | 'log' | 'metrics'>> & Pick<MasterOptions, 'session' | 'connectString' | 'auth'>;

  constructor(opts: MasterOptions) {
    super();
    assertWorkerId(opts.id);
    const sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const retentionMs = opts.retentionMs ?? 24 * 3600_000;
    this.opts = {
      ...opts,
      root: opts.root ?? DEFAULT_ROOT,
      sessionTimeoutMs,
      retentionMs,
      retentionIntervalMs: opts.retentionIntervalMs ?? Math.max(1000, Math.min(retentionMs / 2, 60_000)),
      timeoutGraceMs: opts.timeoutGraceMs ?? Math.max(2000, sessionTimeoutMs),
      assignBatch: opts.assignBatch ?? 100,
      shards: opts.shards ?? DEFAULT_SHARDS,
    };
    if (!opts.session && !opts.connectString) throw new Error('master: connectString or session is required');
    if (!(this.opts.assignBatch >= 1 && this.opts.assignBatch <= 1000)) throw new Error(`master: assignBatch must be 1..1000, got ${opts.assignBatch}`);
    this.baseLog = (opts.log ?? silentLogger).child({ masterId: opts.id });
    this.log = this.baseLog.child({ component: 'master' });
    this.registry = opts.metrics;
    this.metrics = opts.metrics ? masterMetrics(opts.metrics) : NO_MASTER_METRICS;
  }

  get state(): MasterState {
    return this._state;
  }
  get isLeader(): boolean {
    return this._state === 'leading';
  }
  get epoch(): number | null {
    return this.election?.handle?.epoch ?? null;
  }
  /** Predecessor watches that fired for this candidate (for the no-herd test). */
  get watchEvents(): number {
    return this.election?.watchEvents ?? 0;
  }
  get candidatePath(): string | null {
    return this.election?.candidatePath ?? null;
  }

  private setState(next: MasterState): void {
    if (this._state === next) return;
    const prev = this._state;
    this._state = next;
    // Debug: the lines a person reads are 'elected leader', 'master following' and 'stepped down'.
    this.log.debug({ state: next, previous: prev }, 'master state');
    this.emit('state', next);
  }

  async start(): Promise<void> {
    if (this._state !== 'initialized') throw new Error(`master: start() in state ${this._state}`);
    try {
      if (this.opts.session) {
        this.session = this.opts.session;
      } else {
        this.session = await ZkSession.open({ connectString: this.opts.connectString!, auth: this.opts.auth, sessionTimeoutMs: this.opts.sessionTimeoutMs, log: this.baseLog, metrics: this.registry });
        this.ownsSession = true;
      }
      // A stop() meanwhile found no session of ours to close and no election to leave.
      if (this.stopping) return await this.startStopped();
      this.paths = await ensureLayout(this.session, this.opts.root, this.opts.shards);
      if (this.stopping) return await this.startStopped();
      this.attachMetrics(this.session, this.paths);
      this.setState('following');
      this.joinElection();
      await candidacy(this.election!, this.session);
    } catch (err) {
      if (this.stopping) return await this.startStopped(); // stop() ends it (and says stopped), not this error
      this.setState('failed');
      await this.election?.stop();
      this.metrics.detach();
      if (this.ownsSession) await this.session?.close();
      throw err;
    }
  }

  /** A start overtaken by stop(): it resolves once stopped, with the session it opened closed too. */
  private async startStopped(): Promise<void> {
    await this.stopping;
    if (this.ownsSession) await this.session?.close();
  }

  private async lead(handle: LeaderHandle): Promise<void> {
    if (this._state === 'stopping' || this._state === 'stopped') return;
    const leadership = new Leadership(
      this.session!,
      this.paths!,
      handle,
      {
        retentionMs: this.opts.retentionMs,
        retentionIntervalMs: this.opts.retentionIntervalMs,
        timeoutGraceMs: this.opts.timeoutGraceMs,
        assignBatch: this.opts.assignBatch,
      },
      this.baseLog,
      this.metrics,
    );
    this.leadership = leadership;
    leadership.on('deposed', (reason) => {
      // The fence said no: our node is gone though the session event may lag. Rejoin.
      void this.unlead(reason).then(() => this.election?.stop()).then(() => this.rejoin());
    });
    try {
      await leadership.start();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not rebuild the picture; stepping down to try again');
      await this.unlead('rebuild failed', true);
      await this.election?.stop();
      await this.rejoin();
      return;
    }
    if (this.leadership !== leadership) return; // deposed meanwhile
    this.setState('leading');
    this.metrics.leaderSeen(handle.epoch);
    // The one line of this leadership, with what the rebuild found.
    this.log.info({ epoch: handle.epoch, ...leadership.takeover }, 'elected leader');
    this.emit('leading', handle.epoch);
  }

  private async rejoin(): Promise<void> {
    if (this._state === 'stopping' || this._state === 'stopped' || !this.session || !this.paths) return;
    this.joinElection();
  }

  /** A fresh candidacy (a deposed leader rejoins at the back of the line). */
  private joinElection(): void {
    this.election?.removeAllListeners();
    // NO_NODE on the election directory: the root is being destroyed or gone (layout-gone.ts).
    this.election = new LeaderElection(this.session!, this.paths!.election, this.opts.id, this.baseLog, {
      whenDirGone: () => layoutGone(this.session!, this.opts.root),
    });
    this.election.on('gone', (err: Error) => {
      if (this._state === 'stopping' || this._state === 'stopped') return;
      this.log.debug({ err: err.message }, 'master: the root is gone');
      void this.unlead(err.message).then(() => {
        if (this._state === 'stopping' || this._state === 'stopped') return; // a stop() came meanwhile: it says stopped
        this.setState('failed');
        this.goneWith?.(err);
      });
    });
    this.election.on('leader', (h) => void this.lead(h));
    this.election.on('deposed', (reason) => void this.unlead(reason));
    this.election.on('role', (role) => {
      if (role !== 'follower' || this._state === 'stopping' || this._state === 'stopped') return;
      this.setState('following');
      // One line per following, naming the leader (null: none yet, or it could not be read).
      void this.election?.currentLeader().then(
        (l) => {
          if (l) this.metrics.leaderSeen(l.epoch);
          this.log.info({ leader: l?.id ?? null, leaderEpoch: l?.epoch ?? null }, 'master following');
        },
        (err: Error) => this.log.info({ leader: null, err: err.message }, 'master following'),
      );
    });
    this.election.start();
  }

  /** Drops the leadership; `quiet`: the caller has logged why already. */
  private async unlead(reason: string, quiet = false): Promise<void> {
    const l = this.leadership;
    if (!l) return;
    this.leadership = undefined;
    const leading = this._state === 'leading';
    // Once per leadership: a stop is no fault (info); anything else deposed us (warn), also
    // while the picture was still being rebuilt (no 'elected leader' line yet).
    if (!quiet) this.log[reason === 'stopping' ? 'info' : 'warn']({ reason, ...(leading ? {} : { rebuilt: false }) }, 'stepped down');
    // Said before awaiting the stop: a new leadership may start (and set 'leading') while
    // the old one winds down, and must not be reported as stepped down.
    if (leading) {
      this.emit('deposed', reason);
      this.setState('following');
    }
    await l.stop();
  }


  /** Counts this master in its registry's gauges (collected at scrape time). */
  private attachMetrics(session: ZkSession, paths: Paths): void {
    if (this.metrics === NO_MASTER_METRICS) return;
    // A follower's look at who leads, for the epoch gauge (at most every 10 s, when scraped).
    const read = new CachedRead(async () => {
      const epoch = await readLeaderEpoch(session, paths.election);
      if (epoch !== null) this.metrics.leaderSeen(epoch);
      return epoch;
    });
    this.metrics.attach({
      leading: () => this.isLeader,
      leaderEpoch: async () => {
        if (!this.isLeader) await read.get();
        return this.metrics.knownEpoch();
      },
      picture: () => (this.isLeader ? (this.leadership?.picture() ?? null) : null),
      finished: () => (this.isLeader && this.leadership ? this.leadership.finishedCount() : Promise.resolve(null)),
    });
  }

  /** Runs retention now (tests and operators); returns how many tasks were purged. */
  async purgeFinished(): Promise<number> {
    return this.leadership ? this.leadership.purgeFinished() : 0;
  }

  /** Leaves the election (the next candidate leads at once) and closes an owned session. */
  stop(): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.setState('stopping');
    await this.unlead('stopping');
    await this.election?.stop();
    this.metrics.detach();
    if (this.ownsSession) await this.session?.close();
    this.setState('stopped');
  }
}
