// Group membership, as kazoo's Party or Curator's GroupMember: each member session owns one
// ephemeral znode under a plain directory, named for its session (so a member re-registered
// under a new session is a new znode, an "incarnation", never confused with its previous life
// whose session has not expired yet). The recipe knows nothing of what its members do.
//
// Guarantees: the member node exists exactly while the session that made it lives; work the
// owner ties to a member name (`setup`) is done after the node exists and before the name is
// announced; after an expiry the member re-creates itself under the new session and emits
// `registered` again.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { ConnectionLossError, NodeExistsError, NoNodeError, SessionClosedError, SessionExpiredError } from './errors.js';
import type { ZkSession } from './session.js';
import { StableWatchers } from './stable-watchers.js';
import { Coalescer } from '../util/coalescer.js';

export type MemberState = 'init' | 'alive' | 'draining' | 'gone';

/** What a drover worker's member node holds (JSON). */
export interface MemberInfo {
  id: string;
  incarnation: string;
  host: string;
  pid: number;
  capacity: number;
  labels: Record<string, string>;
  /** Task types it handles, sorted; absent (a worker older than this field) = any type. */
  types?: string[];
  state: MemberState;
  since: number;
}

export interface MembershipEvents {
  /** Registered under a (new) member name: the previous one, if any, is gone with its session. */
  registered: [name: string, previous: string | null];
}

export interface MembershipOptions {
  /** Done under a new member name once its node exists, before `register()` resolves and `registered` fires. */
  setup?: (name: string) => Promise<void>;
  log?: Logger;
}

export class Membership extends EventEmitter<MembershipEvents> {
  private readonly log: Logger;
  private _name: string | null = null;
  private closed = false;
  private readonly onSession = () => void this.reregister();

  /**
   * `nameFor(sessionId)` names the member node under `dir` (it should carry the session id);
   * `data()` is what the node holds, read at every write.
   */
  constructor(
    private readonly session: ZkSession,
    readonly dir: string,
    private readonly nameFor: (sessionId: string) => string,
    private readonly data: () => Buffer,
    private readonly opts: MembershipOptions = {},
  ) {
    super();
    this.log = (opts.log ?? silentLogger).child({ component: 'membership' });
  }

  /** The member name of the current registration; null before the first. */
  get name(): string | null {
    return this._name;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /** Creates the member node for the current session, then runs `setup`. */
  async register(): Promise<string> {
    if (this.closed) throw new SessionClosedError('SESSION_CLOSED', 'membership closed');
    const previous = this._name;
    const name = this.nameFor(this.session.sessionId);
    // Retried on connection loss: NODE_EXISTS then means our own earlier try went through
    // (the name holds our session id, so it cannot be anyone else's).
    await this.session.retrying(() =>
      this.session.create(`${this.dir}/${name}`, this.data(), 'ephemeral').catch((err) => {
        if (!(err instanceof NodeExistsError)) throw err;
        return '';
      }),
    );
    await this.opts.setup?.(name);
    if (previous === null) this.session.on('session', this.onSession);
    this._name = name;
    this.log.info({ member: name }, 'registered');
    this.emit('registered', name, previous);
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

  /** Writes `data()` to the member node again. */
  async update(): Promise<void> {
    if (!this._name || this.closed) return;
    try {
      await this.session.retrying(() => this.session.setData(`${this.dir}/${this._name!}`, this.data()));
    } catch (err) {
      // Expired: the new registration writes the current data.
      if (!(err instanceof SessionExpiredError || err instanceof NoNodeError)) throw err;
    }
  }

  /** Deletes the member node; no re-registration after this. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.session.off('session', this.onSession);
    const name = this._name;
    if (!name) return;
    await this.session.remove(`${this.dir}/${name}`).catch((err) => {
      if (!(err instanceof NoNodeError || err instanceof SessionClosedError || err instanceof SessionExpiredError || err instanceof ConnectionLossError)) {
        throw err;
      }
    });
  }
}

/**
 * Reads a drover worker's member node. Bad JSON is a member of capacity 0 (nothing is
 * assigned to it); id and incarnation come from the data, else from the name.
 */
export function parseMemberInfo(name: string, data: Buffer, log: Logger = silentLogger): MemberInfo {
  let info: Partial<MemberInfo> = {};
  try {
    info = JSON.parse(data.toString('utf8')) as MemberInfo;
  } catch {
    log.warn({ member: name }, 'member node holds no valid JSON; treating it as a worker of capacity 0');
  }
  if (info === null || typeof info !== 'object') info = {};
  const types = Array.isArray(info.types) && info.types.every((t) => typeof t === 'string') ? info.types : undefined;
  return {
    id: typeof info.id === 'string' ? info.id : name,
    incarnation: typeof info.incarnation === 'string' ? info.incarnation : '',
    host: info.host ?? '?',
    pid: info.pid ?? 0,
    capacity: typeof info.capacity === 'number' ? info.capacity : 0,
    labels: info.labels ?? {},
    ...(types ? { types } : {}),
    state: info.state ?? 'init',
    since: info.since ?? 0,
  };
}

export interface ObserverEvents<T> {
  join: [member: T & { name: string }];
  leave: [name: string];
  update: [member: T & { name: string }];
  /** The whole view was (re)built. */
  change: [];
}

/** Turns a member node's data into what the view holds. */
export type MemberParser<T> = (name: string, data: Buffer, log: Logger) => T;

/** A drover Paths (or anything with its workers directory): the older constructor's argument. */
export interface WorkersDir {
  readonly workers: string;
}

/**
 * Keeps a live view of a membership directory with child and data watches, re-armed on every
 * fire and rebuilt after a session expiry. Events say what changed since the last view.
 * `new MembershipObserver(session, paths, log)` (drover's workers, as MemberInfo) is kept for
 * older callers; `new MembershipObserver(session, dir, log, parse)` is the recipe.
 */
export class MembershipObserver<T extends object = MemberInfo> extends EventEmitter<ObserverEvents<T>> {
  readonly dir: string;
  private readonly log: Logger;
  private readonly parse: MemberParser<T>;
  private readonly view = new Map<string, T & { name: string }>();
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
    dir: string | WorkersDir,
    log: Logger = silentLogger,
    parse?: MemberParser<T>,
  ) {
    super();
    this.dir = typeof dir === 'string' ? dir : dir.workers;
    this.parse = parse ?? (parseMemberInfo as unknown as MemberParser<T>);
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

  members(): Array<T & { name: string }> {
    return [...this.view.values()];
  }
  get(name: string): (T & { name: string }) | undefined {
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
    const listWatcher = this.watchers.get('', (g) => () => {
      if (g === this.session.generation && !this.stopped) this.refresher.kick();
    });
    const { children } = await this.session.retrying(() => this.session.getChildren(this.dir, listWatcher));
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
    let read: Array<(T & { name: string }) | null>;
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

  private async readMember(name: string): Promise<(T & { name: string }) | null> {
    try {
      const watcher = this.watchers.get(`m:${name}`, (g) => (e) => {
        if (g !== this.session.generation || this.stopped) return;
        if (e.type === 'changed') {
          this.dirty.add(name);
          this.refresher.kick();
        }
      });
      const { data } = await this.session.retrying(() => this.session.getData(`${this.dir}/${name}`, watcher));
      return { ...this.parse(name, data, this.log), name };
    } catch (err) {
      if (err instanceof NoNodeError) return null; // left meanwhile: the child watch tells us
      throw err;
    }
  }
}
