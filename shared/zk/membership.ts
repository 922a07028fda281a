// Group membership, as kazoo's Party or Curator's GroupMember: each member session owns one
// ephemeral znode under a plain directory, named for its session (so a member re-registered
// under a new session is a new znode, an "incarnation", never confused with its previous life
// whose session has not expired yet). The recipe knows nothing of what its members do.
//
// Guarantees: the member node exists exactly while the session that made it lives; work the
// owner ties to a member name (`setup`) is done after the node exists and before the name is
// announced; after an expiry the member re-creates itself under the new session and emits
// `registered` again, unless the directory is gone and the owner's `whenDirGone` says why (`gone`).
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { ConnectionLossError, isNoNodeOf, NodeExistsError, NoNodeError, SessionClosedError, SessionExpiredError } from './errors.js';
import type { ZkSession } from './session.js';
import { TreeMembershipObserver, type MemberParser } from './membership-observer.js';

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
  /** A re-registration met the directory gone and `whenDirGone` said why: no re-registration after this. */
  gone: [err: Error];
}

export interface MembershipOptions {
  /** Done under a new member name once its node exists, before `register()` resolves and `registered` fires. */
  setup?: (name: string) => Promise<void>;
  /**
   * What a missing directory means (asked when a re-registration meets NO_NODE of it): an Error
   * to stop with (the owner's one line, e.g. its cluster being destroyed), or null to keep
   * retrying as after any error. Absent: always retry.
   */
  whenDirGone?: () => Promise<Error | null>;
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
        if (this.closed || err instanceof SessionClosedError || (await this.dirGone(err))) return;
        this.log.warn({ err: (err as Error).message }, 're-registration failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** NO_NODE of the directory (our create in it) that `whenDirGone` explains: stopped for good. */
  private async dirGone(err: unknown): Promise<boolean> {
    if (!this.opts.whenDirGone || !isNoNodeOf(err, this.dir)) return false;
    let why: Error | null;
    try {
      why = await this.opts.whenDirGone();
    } catch {
      return this.closed; // could not tell: retry as before
    }
    if (this.closed) return true;
    if (!why) return false;
    // Nothing to delete: our node, if any, went with the old session.
    this.closed = true;
    this.session.off('session', this.onSession);
    this.emit('gone', why);
    return true;
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

/** A drover Paths (or anything with its workers directory): the older constructor's argument. */
export interface WorkersDir {
  readonly workers: string;
}

export { MEMBERS_PER_READ, type MemberParser, type ObserverEvents } from './membership-observer.js';

/**
 * A live view of a membership directory on one tree watch (membership-observer.ts): a join,
 * leave or update costs O(1) requests; a reset (reconnect, new session) lists and reads the
 * group once. `new MembershipObserver(session, paths, log)` (drover's workers, as MemberInfo)
 * is kept for older callers; `new MembershipObserver(session, dir, log, parse)` is the recipe.
 */
export class MembershipObserver<T extends object = MemberInfo> extends TreeMembershipObserver<T> {
  constructor(session: ZkSession, dir: string | WorkersDir, log: Logger = silentLogger, parse?: MemberParser<T>) {
    super(session, typeof dir === 'string' ? dir : dir.workers, parse ?? (parseMemberInfo as unknown as MemberParser<T>), log);
  }
}
