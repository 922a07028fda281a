// Leader election (a recipe: it knows a directory, not drover's layout, like etcd's
// NewElection(session, prefix) or Curator's LeaderLatch(client, path)): ephemeral sequential
// candidates c_<session>_<seq> under the directory it is given; the lowest sequence leads, every other candidate watches only its immediate predecessor (no herd effect: the
// death of one candidate wakes exactly one other).
//
// Guarantees: at most one candidate sees itself as leader per ZooKeeper's view; a leader that
// lost its session may believe it leads for a moment, so safety rests on the fence, not on
// this belief: every leader write is a multi that `check`s the leader's own candidate node,
// which vanished with its session, so a deposed leader's write fails on the server.
// Candidate names carry the session id: a create whose reply was lost is resolved by finding
// our own node, and leadership is claimed only by a node of the current session.
// Limits: on expiry the leader is told at once (`deposed`) and rejoins as a new candidate at
// the back of the line; while merely disconnected it stays leader (its writes are fenced).
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { ConnectionLossError, isNoNodeOf, NoNodeError, SessionClosedError, SessionExpiredError } from './errors.js';
import type { ZkSession } from './session.js';
import { Coalescer } from '../util/coalescer.js';
import { NoAuthBackoff } from './auth-backoff.js';
import { StableWatchers } from './stable-watchers.js';
import { candidatePrefix, candidateSeq, candidateSession, inLine, readLeader, type CandidateInfo } from './election-candidates.js';
import type { ElectionEvents, ElectionOptions, ElectionRole, LeaderHandle } from './election-types.js';

export { candidateSeq, candidateSession, listCandidates, readLeader, type CandidateInfo } from './election-candidates.js';
export type { ElectionEvents, ElectionOptions, ElectionRole, LeaderHandle } from './election-types.js';

export class LeaderElection extends EventEmitter<ElectionEvents> {
  private readonly log: Logger;
  private readonly info: CandidateInfo;
  private _role: ElectionRole = 'idle';
  private nodePath: string | null = null;
  private nodeGeneration = -1;
  private _handle: LeaderHandle | null = null;
  private readonly checker: Coalescer;
  /** A refused check (NO_AUTH) is logged once and retried 1 s doubling, not every 200 ms. */
  private readonly refusals: NoAuthBackoff;
  /** Predecessor watches that fired, for the no-herd test and for status. */
  watchEvents = 0;
  private readonly watchers: StableWatchers;
  private readonly onExpired = () => this.loseNode('session expired');
  private readonly onSession = () => this.checker.kick();

  constructor(
    private readonly session: ZkSession,
    /** The election directory (it must exist). */
    private readonly dir: string,
    /** Who this candidate is: stored in its node with host, pid and start time. */
    id: string,
    log: Logger = silentLogger,
    private readonly opts: ElectionOptions = {},
  ) {
    super();
    this.info = { id, host: hostname(), pid: process.pid, since: Date.now() };
    this.log = log.child({ component: 'election' });
    this.watchers = new StableWatchers(session);
    this.refusals = new NoAuthBackoff(this.log);
    this.checker = new Coalescer(
      async () => {
        if (this.refusals.waiting) return; // the back-off's timer kicks the next one
        await this.check();
        this.refusals.succeeded();
      },
      (err) => {
        if (this._role === 'stopped') return;
        if (this.dirMissing(err)) return void this.onDirMissing(err);
        this.retryAfter(err);
      },
    );
  }

  private retryAfter(err: unknown): void {
    if (!NoAuthBackoff.is(err)) this.log.warn({ err: (err as Error).message }, 'election check failed; retrying');
    this.refusals.schedule(err, 200, () => this.checker.kick());
    if (NoAuthBackoff.is(err)) this.emit('refused', err as Error);
  }

  /** NO_NODE of the directory itself (the listing) or of a candidate's create in it. */
  private dirMissing(err: unknown): err is NoNodeError {
    return this.opts.whenDirGone !== undefined && isNoNodeOf(err, this.dir);
  }

  private async onDirMissing(err: NoNodeError): Promise<void> {
    let why: Error | null;
    try {
      why = await this.opts.whenDirGone!();
    } catch (e) {
      return this.retryAfter(e);
    }
    if (this._role === 'stopped') return;
    if (!why) return this.retryAfter(err);
    // Stopped for good: nothing to delete (the directory went with our node, if any).
    const wasLeader = this._role === 'leader';
    this.session.off('expired', this.onExpired);
    this.session.off('session', this.onSession);
    this.nodePath = null;
    this._handle = null;
    this.setRole('stopped');
    if (wasLeader) this.emit('deposed', 'election directory gone');
    this.emit('gone', why);
  }

  get role(): ElectionRole {
    return this._role;
  }
  get handle(): LeaderHandle | null {
    return this._handle;
  }
  get isLeader(): boolean {
    return this._role === 'leader';
  }
  get candidatePath(): string | null {
    return this.nodePath;
  }

  start(): void {
    if (this._role !== 'idle') throw new Error(`election: start() in role ${this._role}`);
    this.session.on('expired', this.onExpired);
    this.session.on('session', this.onSession);
    this.setRole('candidate');
    this.checker.kick();
  }

  /** Leaves the election; deletes our candidate node so the next candidate leads at once. */
  async stop(): Promise<void> {
    if (this._role === 'stopped') return;
    const wasLeader = this._role === 'leader';
    this.setRole('stopped');
    this.session.off('expired', this.onExpired);
    this.session.off('session', this.onSession);
    await this.checker.settled();
    if (wasLeader) {
      this._handle = null;
      this.emit('deposed', 'stopped');
    }
    const path = this.nodePath;
    this.nodePath = null;
    if (path && this.nodeGeneration === this.session.generation) await this.removeOwn(path, this.nodeGeneration);
  }

  /**
   * Deletes a candidate node of ours, riding out connection loss for as long as its session
   * lives: a node left behind while the session lives would stay first in line with nobody
   * acting on it, and every other candidate would wait behind it.
   */
  private async removeOwn(path: string, generation: number): Promise<void> {
    for (;;) {
      if (this.session.generation !== generation || this.session.state === 'closed' || this.session.state === 'expired') return;
      try {
        await this.session.remove(path);
        return;
      } catch (err) {
        if (err instanceof NoNodeError || err instanceof SessionClosedError || err instanceof SessionExpiredError) return;
        if (!(err instanceof ConnectionLossError)) {
          this.log.warn({ err: (err as Error).message, path }, 'could not delete candidate node; it goes with the session');
          return;
        }
        await this.session.waitConnected().catch(() => undefined);
      }
    }
  }

  /** The current leader's info, read from the lowest candidate (null if none). */
  async currentLeader(): Promise<(CandidateInfo & { epoch: number; path: string }) | null> {
    return readLeader(this.session, this.dir);
  }

  private setRole(role: ElectionRole): void {
    if (this._role === role) return;
    this._role = role;
    this.log.debug({ role }, 'election role');
    this.emit('role', role);
  }

  private loseNode(reason: string): void {
    this.nodePath = null;
    if (this._role === 'leader') {
      this._handle = null;
      this.setRole('candidate');
      // Debug: the role that leads (drover's Master) logs its step-down once, at warn.
      this.log.debug({ reason }, 'election lost');
      this.emit('deposed', reason);
    } else if (this._role === 'follower') {
      this.setRole('candidate');
    }
  }

  private async join(): Promise<void> {
    const prefix = candidatePrefix(this.dir, this.session.sessionId);
    const generation = this.session.generation;
    try {
      this.nodePath = await this.session.create(prefix, Buffer.from(JSON.stringify(this.info)), 'ephemeral_sequential');
    } catch (err) {
      if (!(err instanceof ConnectionLossError)) throw err;
      // The reply was lost: the node may exist. Ours carries our session id in its name.
      const { children } = await this.session.retrying(() => this.session.getChildren(this.dir));
      const mine = children.find((c) => c.startsWith(`c_${this.session.sessionId}_`));
      if (!mine) throw err;
      this.nodePath = `${this.dir}/${mine}`;
    }
    this.nodeGeneration = generation;
  }

  private async check(): Promise<void> {
    if (this._role === 'stopped' || this.session.state === 'closed') return;
    if (this.session.state === 'expired') return; // `session` will kick us again
    if (this.nodePath && this.nodeGeneration !== this.session.generation) this.loseNode('session replaced');
    if (!this.nodePath) await this.join();
    if ((this._role as ElectionRole) === 'stopped') return;

    const generation = this.session.generation;
    const { children } = await this.session.retrying(() => this.session.getChildren(this.dir));
    const sorted = inLine(children);
    const ownName = this.nodePath!.slice(this.dir.length + 1);
    // One candidacy per session: another node of this session is a leftover (a create whose
    // reply was lost and was tried again, or an earlier candidacy whose delete failed). It
    // would stand in line ahead of us with nobody behind it acting: delete it.
    const leftovers = sorted.filter((c) => c !== ownName && candidateSession(c) === this.session.sessionId);
    if (leftovers.length > 0) {
      this.log.warn({ leftovers }, 'deleting leftover candidate nodes of this session');
      for (const c of leftovers) await this.removeOwn(`${this.dir}/${c}`, generation);
      this.checker.kick();
      return;
    }
    const index = sorted.indexOf(ownName);
    if (index < 0) {
      // Our node is gone (deleted by hand, or the session behind it ended): run again.
      this.loseNode('candidate node vanished');
      this.checker.kick();
      return;
    }
    if (index === 0) {
      // Claim only with a node of the session we hold now (Curator does the same).
      if (candidateSession(ownName) !== this.session.sessionId || generation !== this.session.generation) {
        this.loseNode('candidate node belongs to an old session');
        this.checker.kick();
        return;
      }
      if (this._role !== 'leader') {
        const path = this.nodePath!;
        const handle: LeaderHandle = {
          path,
          epoch: candidateSeq(ownName),
          sessionId: this.session.sessionId,
          fence: () => ({ op: 'check', path, version: 0 }),
        };
        this._handle = handle;
        this.setRole('leader');
        // Debug: the role that leads logs its leadership once (drover's Master: 'elected leader').
        this.log.debug({ epoch: handle.epoch }, 'election won');
        this.emit('leader', handle);
      }
      // Notice our own node being deleted (by an operator, say) while we lead; gone already
      // (between the listing and here): look again now, the watch would never fire.
      const own = await this.session.exists(
        this.nodePath!,
        this.watchers.get(`own:${this.nodePath}`, (g) => (e) => {
          if (e.type === 'deleted' && g === this.session.generation) this.checker.kick();
        }),
      );
      if (!own) this.checker.kick();
      return;
    }
    const predecessor = `${this.dir}/${sorted[index - 1]}`;
    const stat = await this.session.exists(
      predecessor,
      this.watchers.get(`pred:${predecessor}`, (g) => () => {
        if (g !== this.session.generation) return;
        this.watchEvents += 1;
        this.emit('watch');
        this.checker.kick();
      }),
    );
    if (!stat) {
      this.checker.kick(); // gone between the listing and the watch
      return;
    }
    if (this._role !== 'follower') this.setRole('follower');
  }
}
