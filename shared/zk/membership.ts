// Worker membership: each worker session owns one ephemeral znode, workers/<id>~<incarnation>,
// where the incarnation is its session id. A worker restarted under the same name gets a
// new incarnation at once, so it is never confused with its previous life whose session has
// not expired yet: that one keeps its own member node and assignment directory until the
// leader sees it vanish and takes its tasks back.
//
// Guarantees: the member node exists exactly while the session that made it lives; it is
// created before its assignment directory, so a directory whose member node is gone belongs
// to a dead incarnation (the leader reclaims it then, and assigns to a member only once it has
// seen its directory). After an expiry the registration re-creates itself under the new
// session (a new incarnation) and emits `incarnation`.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { Paths } from '../protocol/paths.js';
import { ConnectionLossError, NodeExistsError, NoNodeError, SessionClosedError, SessionExpiredError } from './errors.js';
import type { ZkSession } from './session.js';
import { StableWatchers } from './stable-watchers.js';
import { Coalescer } from '../util/coalescer.js';

export type MemberState = 'init' | 'alive' | 'draining' | 'gone';

export interface MemberInfo {
  id: string;
  incarnation: string;
  host: string;
  pid: number;
  capacity: number;
  labels: Record<string, string>;
  state: MemberState;
  since: number;
}

export interface RegistrationEvents {
  /** Registered under a (new) member name: the previous one, if any, is gone with its session. */
  incarnation: [memberName: string, previous: string | null];
  state: [state: MemberState];
}

export class WorkerRegistration extends EventEmitter<RegistrationEvents> {
  private readonly log: Logger;
  private info: Omit<MemberInfo, 'incarnation' | 'since'>;
  private _memberName: string | null = null;
  private since = Date.now();
  private closed = false;
  private readonly onSession = () => void this.reregister();

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    opts: { id: string; capacity: number; labels?: Record<string, string> },
    log: Logger = silentLogger,
  ) {
    super();
    this.info = { id: opts.id, host: hostname(), pid: process.pid, capacity: opts.capacity, labels: opts.labels ?? {}, state: 'init' };
    this.log = log.child({ component: 'membership', workerId: opts.id });
  }

  get memberName(): string | null {
    return this._memberName;
  }
  get state(): MemberState {
    return this.info.state;
  }

  private data(): Buffer {
    const full: MemberInfo = { ...this.info, incarnation: this.session.sessionId, since: this.since };
    return Buffer.from(JSON.stringify(full));
  }

  /** Creates the member node, then the assignment directory, for the current session. */
  async register(): Promise<string> {
    if (this.closed) throw new SessionClosedError('SESSION_CLOSED', 'registration closed');
    const previous = this._memberName;
    const name = Paths.memberName(this.info.id, this.session.sessionId);
    this.since = Date.now();
    // Member node first: a leader takes a directory without a member node for a dead
    // incarnation's and deletes it; the other order let it delete ours between the two creates.
    // The ephemeral create is retried on connection loss: NODE_EXISTS then means our own
    // earlier try went through (the name holds our session id, so it cannot be anyone else's).
    await this.session.retrying(() =>
      this.session.create(this.paths.member(name), this.data(), 'ephemeral').catch((err) => {
        if (!(err instanceof NodeExistsError)) throw err;
        return '';
      }),
    );
    await this.session.retrying(() =>
      this.session.create(this.paths.assignDir(name)).catch((err) => {
        if (!(err instanceof NodeExistsError)) throw err;
        return '';
      }),
    );
    if (previous === null) this.session.on('session', this.onSession);
    this._memberName = name;
    this.log.info({ member: name, state: this.info.state }, 'registered');
    this.emit('incarnation', name, previous);
    return name;
  }

  /** After an expiry: register under the new session, retrying until it works or we close. */
  private async reregister(): Promise<void> {
    const generation = this.session.generation;
    for (let delay = 100; !this.closed && generation === this.session.generation; delay = Math.min(delay * 2, 2000)) {
      try {
        await this.register();
        return;
      } catch (err) {
        if (this.closed || err instanceof SessionClosedError) return;
        this.log.warn({ err: (err as Error).message }, 're-registration failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async setState(state: MemberState): Promise<void> {
    this.info = { ...this.info, state };
    this.emit('state', state);
    if (!this._memberName || this.closed) return;
    try {
      await this.session.retrying(() => this.session.setData(this.paths.member(this._memberName!), this.data()));
    } catch (err) {
      // Expired: the new registration carries the new state.
      if (!(err instanceof SessionExpiredError || err instanceof NoNodeError)) throw err;
    }
  }

  /**
   * Re-creates this incarnation's assignment directory if it is gone (removed by hand, say),
   * in one multi with a check of the member node, so it is only ever made for a member that
   * lives. Returns false when the member node is gone (the expiry path re-registers).
   */
  async restoreAssignDir(): Promise<boolean> {
    const name = this._memberName;
    if (!name || this.closed) return false;
    try {
      await this.session.multi([
        { op: 'check', path: this.paths.member(name) },
        { op: 'create', path: this.paths.assignDir(name) },
      ]);
      this.log.warn({ member: name }, 'assignment directory was missing; re-created it');
      return true;
    } catch (err) {
      if (err instanceof NodeExistsError) return true;
      if (err instanceof NoNodeError && err.opIndex === 0) return false;
      throw err;
    }
  }

  /** Deletes the member node (the leader takes back whatever is still assigned). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session.off('session', this.onSession);
    this.info = { ...this.info, state: 'gone' };
    const name = this._memberName;
    if (!name) return;
    await this.session.remove(this.paths.member(name)).catch((err) => {
      if (!(err instanceof NoNodeError || err instanceof SessionClosedError || err instanceof SessionExpiredError || err instanceof ConnectionLossError)) {
        throw err;
      }
    });
  }
}

export interface ObserverEvents {
  join: [member: MemberInfo & { name: string }];
  leave: [name: string];
  update: [member: MemberInfo & { name: string }];
  /** The whole view was (re)built. */
  change: [];
}

/**
 * Keeps a live view of workers/ with child and data watches, re-armed on every fire and
 * rebuilt after a session expiry. Events say what changed since the last view.
 */
export class MembershipObserver extends EventEmitter<ObserverEvents> {
  private readonly log: Logger;
  private readonly view = new Map<string, MemberInfo & { name: string }>();
  private readonly refresher: Coalescer;
  private readonly dirty = new Set<string>();
  private readonly watchers: StableWatchers;
  private stopped = false;
  private readonly onSession = () => {
    this.dirty.clear();
    for (const n of this.view.keys()) this.dirty.add(n);
    this.refresher.kick();
  };

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    log: Logger = silentLogger,
  ) {
    super();
    this.log = log.child({ component: 'membership-observer' });
    this.watchers = new StableWatchers(session);
    this.refresher = new Coalescer(
      () => this.refresh(),
      (err) => {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message }, 'membership refresh failed; retrying');
        setTimeout(() => this.refresher.kick(), 200).unref();
      },
    );
  }

  members(): Array<MemberInfo & { name: string }> {
    return [...this.view.values()];
  }
  get(name: string): (MemberInfo & { name: string }) | undefined {
    return this.view.get(name);
  }

  /** Reads the first view; resolves once it is built. */
  async start(): Promise<void> {
    this.session.on('session', this.onSession);
    this.refresher.kick();
    await this.refresher.settled();
  }

  stop(): void {
    this.stopped = true;
    this.session.off('session', this.onSession);
  }

  /** Resolves once any refresh in progress has finished. */
  settled(): Promise<void> {
    return this.refresher.settled();
  }

  private async refresh(): Promise<void> {
    if (this.stopped || this.session.state === 'expired' || this.session.state === 'closed') return;
    const generation = this.session.generation;
    const listWatcher = this.watchers.get('', (g) => () => {
      if (g === this.session.generation && !this.stopped) this.refresher.kick();
    });
    const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.workers, listWatcher));
    const present = new Set(children);
    for (const name of [...this.view.keys()]) {
      if (!present.has(name)) {
        this.view.delete(name);
        this.dirty.delete(name);
        this.watchers.delete(`m:${name}`);
        this.emit('leave', name);
      }
    }
    const toRead = children.filter((n) => !this.view.has(n) || this.dirty.has(n));
    // Clear the marks before reading: a change that fires while we read marks the member
    // again and the next run re-reads it (clearing after the read lost such a change).
    for (const n of toRead) this.dirty.delete(n);
    let read: Array<(MemberInfo & { name: string }) | null>;
    try {
      read = await Promise.all(toRead.map((name) => this.readMember(name)));
    } catch (err) {
      for (const n of toRead) this.dirty.add(n);
      throw err;
    }
    for (const m of read) {
      if (!m) continue;
      const known = this.view.has(m.name);
      this.view.set(m.name, m);
      this.emit(known ? 'update' : 'join', m);
    }
    this.emit('change');
  }

  private async readMember(name: string): Promise<(MemberInfo & { name: string }) | null> {
    try {
      const watcher = this.watchers.get(`m:${name}`, (g) => (e) => {
        if (g !== this.session.generation || this.stopped) return;
        if (e.type === 'changed') {
          this.dirty.add(name);
          this.refresher.kick();
        }
      });
      const { data } = await this.session.retrying(() => this.session.getData(this.paths.member(name), watcher));
      const parsed = Paths.parseMember(name);
      let info: Partial<MemberInfo> = {};
      try {
        info = JSON.parse(data.toString('utf8')) as MemberInfo;
      } catch {
        this.log.warn({ member: name }, 'member node holds no valid JSON; treating it as a worker of capacity 0');
      }
      return {
        id: parsed?.workerId ?? name,
        incarnation: parsed?.incarnation ?? '',
        host: info.host ?? '?',
        pid: info.pid ?? 0,
        capacity: typeof info.capacity === 'number' ? info.capacity : 0,
        labels: info.labels ?? {},
        state: info.state ?? 'init',
        since: info.since ?? 0,
        name,
      };
    } catch (err) {
      if (err instanceof NoNodeError) return null; // left meanwhile: the child watch tells us
      throw err;
    }
  }
}
