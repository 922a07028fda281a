// The one place that owns a ZooKeeper connection and its state.
//
// node-zookeeper-client 1.1.3 has faults a framework must cover (DESIGN.md §4); this wrapper
// owns all of them:
// - no read timeout: every request here has a deadline, and a watchdog that hears nothing
//   from the server for 2/3 of the session timeout drops the socket so the library reconnects
//   (to another server of an ensemble), exactly as the Java client does;
// - calls around an expiry may never call back: the wrapper keeps its own table of pending
//   requests and fails them itself when the session is gone;
// - it never opens a new session by itself: after an expiry this wrapper closes the dead
//   client, opens a new one and emits `session` so owners re-create their ephemerals;
// - the transaction version-0 bug is fixed in the loaded library when this module loads
//   (version-zero-fix.ts), so it reaches every install, not only this repository's;
// - no deadline on a connect reply (a starting server may never answer): raw-client.ts;
// - a bad port in the connect string is thrown from a socket callback: checked before.
//
// The watchdog (watchdog.ts: silent server, lost session, event-loop stalls), the reaper of
// abandoned sessions (reaper.ts), the library client (raw-client.ts) and the request
// plumbing (requests.ts, helpers.ts) live in their own modules; this one owns the state.
//
// States (the only module that reads the library's states):
// - connecting:   first connect in progress.
// - connected:    requests flow.
// - disconnected: the session may still live on the server; writes will fail or wait.
//                 Owners pause (a leader makes no new decisions; its fence keeps it safe).
// - expired:      the session and its ephemerals are gone. Owners drop what the session
//                 guarded (leadership, running assignments) and wait for `session`.
//                 Also entered when disconnected for a whole session timeout: by then the
//                 server has expired us or will, and acting as if it had is the safe side.
// - closed:       close() was called; every call fails with SessionClosedError.
import { EventEmitter } from 'node:events';
import type zookeeper from 'node-zookeeper-client';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { parseConnectString } from './connect-string.js';
// First: fixes the library's transactions before any is built (throws if it cannot).
import './version-zero-fix.js';
import { ConnectionLossError, SessionClosedError, SessionExpiredError, zkError } from './errors.js';
import { createRawClient, dropSocket, guardSocketData, type RawClient } from './raw-client.js';
import { SessionReaper } from './reaper.js';
import {
  EMPTY,
  MODES,
  PendingRequests,
  WatcherWrappers,
  commitMulti,
  readChildren,
  readData,
  readExists,
  toStat,
  type CreateMode,
  type Op,
  type OpResult,
  type Watcher,
  type ZkStat,
} from './requests.js';
import { SessionWatchdog } from './watchdog.js';
import { mkdirp, retrying } from './helpers.js';

export type { CreateMode, Op, OpResult, WatchEvent, WatchEventType, Watcher, ZkStat } from './requests.js';
export type SessionState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

/** The session timeout when none is given: the failure detector's delay (README, Heartbeats). */
export const DEFAULT_SESSION_TIMEOUT_MS = 6000;

export interface ZkSessionOptions {
  /** host:port[,host:port...][/chroot]; a malformed one is an InvalidConnectStringError. */
  connectString: string;
  /** Requested session timeout; the server clamps it to [2, 20] × tickTime. Default 6000 (DEFAULT_SESSION_TIMEOUT_MS). */
  sessionTimeoutMs?: number;
  /** Deadline of one request. Default: the session timeout. */
  requestTimeoutMs?: number;
  /** How long open() waits for the first session. Default: max(5000, session timeout). */
  connectTimeoutMs?: number;
  log?: Logger;
}

export interface ZkSessionEvents {
  state: [state: SessionState, previous: SessionState];
  /** The session is gone (server said so, or disconnected for a whole session timeout). */
  expired: [];
  /** A new session is up after an expiry: re-create ephemerals and re-arm watches. */
  session: [sessionId: string];
}

export class ZkSession extends EventEmitter<ZkSessionEvents> {
  readonly connectString: string;
  readonly sessionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly connectTimeoutMs: number;
  private readonly log: Logger;

  /** Current library client; replaced (never reused) after an expiry. */
  private client!: RawClient;
  private readonly watchers = new WatcherWrappers();
  /** Requests that have not called back yet; failed by us on expiry/close/deadline. */
  private readonly pending: PendingRequests;
  private readonly watchdog: SessionWatchdog;
  /** Closes sessions we gave up ourselves, so their ephemerals go at once. */
  private readonly reaper: SessionReaper;
  private _state: SessionState = 'connecting';
  private _sessionId = '';
  /** Increments with every new session: owners compare it to know their ephemerals are gone. */
  private _generation = 0;
  private closing?: Promise<void>;
  private reopening = false;

  private constructor(opts: ZkSessionOptions) {
    super();
    this.connectString = opts.connectString;
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? this.sessionTimeoutMs;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? Math.max(5000, this.sessionTimeoutMs);
    this.log = (opts.log ?? silentLogger).child({ component: 'zk-session' });
    this.pending = new PendingRequests(this.requestTimeoutMs);
    this.reaper = new SessionReaper(this.connectString, this.sessionTimeoutMs, this.log);
    this.watchdog = new SessionWatchdog(
      {
        state: () => this._state,
        grantedTimeoutMs: () => this.negotiatedTimeoutMs,
        dropConnection: () => dropSocket(this.client),
        declareExpired: (reason) => this.onExpired(reason, true),
      },
      this.sessionTimeoutMs,
      this.log,
    );
  }

  /**
   * Opens a session; rejects with ConnectionLossError if none is up within connectTimeoutMs,
   * and with InvalidConnectStringError, before any connection, if the connect string is malformed.
   */
  static async open(opts: ZkSessionOptions): Promise<ZkSession> {
    // The library would throw a bad port from a socket callback, out of reach of any catch:
    // an uncaught RangeError that kills the host process.
    parseConnectString(opts.connectString);
    const s = new ZkSession(opts);
    try {
      await s.connectNewClient(s.connectTimeoutMs);
    } catch (err) {
      await s.close();
      throw err;
    }
    s.setState('connected');
    s.watchdog.start();
    return s;
  }

  get state(): SessionState {
    return this._state;
  }
  /** Hex id of the current session. */
  get sessionId(): string {
    return this._sessionId;
  }
  get generation(): number {
    return this._generation;
  }
  /** The timeout the server granted (may differ from the one asked for). */
  get negotiatedTimeoutMs(): number {
    const t = (this.client as unknown as { getSessionTimeout?: () => number } | undefined)?.getSessionTimeout?.();
    return typeof t === 'number' && t > 0 ? t : this.sessionTimeoutMs;
  }

  // ---- connection management -------------------------------------------------------------

  private connectNewClient(timeoutMs: number): Promise<void> {
    const client = createRawClient(this.connectString, { sessionTimeoutMs: this.sessionTimeoutMs });
    this.client = client;
    guardSocketData(client, this.log, () => {
      if (client === this.client) this.watchdog.heard();
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        // Never connected: no session to close. Drop the socket too, so that no reply to
        // its connect request is read by a library that now thinks it is closing.
        client.close();
        dropSocket(client);
        reject(
          new ConnectionLossError('CONNECTION_LOSS', `cannot reach ZooKeeper at ${this.connectString} within ${timeoutMs} ms`, {
            op: 'connect',
          }),
        );
      }, timeoutMs);
      const onConnected = () => {
        cleanup();
        this._sessionId = client.getSessionId().toString('hex');
        this.watchdog.heard();
        this.attachClientListeners(client);
        resolve();
      };
      const cleanup = () => {
        clearTimeout(timer);
        client.removeListener('connected', onConnected);
      };
      client.once('connected', onConnected);
      client.connect();
    });
  }

  private attachClientListeners(client: RawClient): void {
    client.on('connected', () => {
      if (client !== this.client) return;
      this.watchdog.heard();
      this.setState('connected');
    });
    client.on('disconnected', () => {
      if (client !== this.client || this._state === 'closed' || this._state === 'expired') return;
      this.setState('disconnected');
    });
    client.on('expired', () => {
      if (client !== this.client) return;
      this.onExpired('server reported the session expired', false);
    });
  }

  private setState(next: SessionState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    if (next === 'connected') this.reaper.serversAnswer();
    this.log.info({ state: next, previous: prev, sessionId: this._sessionId }, `zookeeper session ${next}`);
    this.emit('state', next, prev);
  }

  /** `declared`: we gave the session up ourselves (the server may still hold it). */
  private onExpired(reason: string, declared: boolean): void {
    if (this._state === 'expired' || this._state === 'closed') return;
    this.log.warn({ sessionId: this._sessionId, reason }, 'zookeeper session expired');
    this.setState('expired');
    this.pending.failAll(() => new SessionExpiredError('SESSION_EXPIRED', `ZooKeeper session ${this._sessionId} expired (${reason})`));
    const abandoned = declared
      ? { id: this.client.getSessionId(), password: this.client.getSessionPassword(), granted: this.negotiatedTimeoutMs }
      : null;
    // Our listeners ignore a client that is no longer this.client; removing all listeners
    // would also remove the library's own state listener.
    this.client.close();
    dropSocket(this.client);
    this.emit('expired');
    if (abandoned) this.reaper.reap(abandoned.id, abandoned.password, abandoned.granted);
    void this.reopen();
  }

  /** Opens a new session after an expiry, retrying until it succeeds or close() is called. */
  private async reopen(): Promise<void> {
    if (this.reopening) return;
    this.reopening = true;
    let delay = 100;
    try {
      while (this._state === 'expired') {
        try {
          await this.connectNewClient(Math.max(2000, this.sessionTimeoutMs));
          if ((this._state as SessionState) === 'closed') {
            this.client.close();
            return;
          }
          this._generation += 1;
          this.setState('connected');
          this.emit('session', this._sessionId);
          return;
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'cannot open a new zookeeper session yet; retrying');
          // Each try already waits up to a session timeout for a server; the pause between
          // tries is short (work resumes at most ~1 s after ZooKeeper does) and jittered so
          // many clients do not come back in step.
          await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
          delay = Math.min(delay * 2, 1000);
        }
      }
    } finally {
      this.reopening = false;
    }
  }

  /** Resolves once connected; rejects after timeoutMs or when closed. */
  async waitConnected(timeoutMs = this.sessionTimeoutMs): Promise<void> {
    if (this._state === 'connected') return;
    if (this._state === 'closed') throw new SessionClosedError('SESSION_CLOSED', 'session closed');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('state', onState);
        reject(new ConnectionLossError('CONNECTION_LOSS', `not connected to ZooKeeper within ${timeoutMs} ms`));
      }, timeoutMs);
      const onState = (s: SessionState) => {
        if (s === 'connected' || s === 'closed') {
          clearTimeout(timer);
          this.off('state', onState);
          if (s === 'closed') reject(new SessionClosedError('SESSION_CLOSED', 'session closed'));
          else resolve();
        }
      };
      this.on('state', onState);
    });
  }

  /** Idempotent; closes the session so its ephemerals vanish at once. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.watchdog.stop();
    const wasConnected = this._state === 'connected';
    this.setState('closed');
    this.pending.failAll(() => new SessionClosedError('SESSION_CLOSED', 'session closed'));
    this.reaper.stopAll();
    const client = this.client;
    if (!client) return;
    if (!wasConnected) {
      client.close();
      return;
    }
    // Wait (briefly) for the server to acknowledge the close: that is what deletes our
    // ephemerals now rather than a session timeout from now.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      client.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.close();
    });
  }

  // ---- requests ----------------------------------------------------------------------------

  /** One library call with a deadline; refused at once when closed or between sessions. */
  private call<T>(op: string, path: string, run: (client: RawClient, done: (err: unknown, value?: T) => void) => void): Promise<T> {
    if (this._state === 'closed') {
      return Promise.reject(new SessionClosedError('SESSION_CLOSED', `session closed (${op} ${path})`, { op, path }));
    }
    if (this._state === 'expired') {
      return Promise.reject(
        new SessionExpiredError('SESSION_EXPIRED', `ZooKeeper session expired; a new one is being opened (${op} ${path})`, { op, path }),
      );
    }
    return this.pending.run(op, path, this.client, run);
  }

  create(path: string, data: Buffer = EMPTY, mode: CreateMode = 'persistent'): Promise<string> {
    return this.call<string>('create', path, (c, done) => c.create(path, data, MODES[mode], done));
  }

  remove(path: string, version = -1): Promise<void> {
    return this.call<void>('remove', path, (c, done) => c.remove(path, version, (err) => done(err)));
  }

  setData(path: string, data: Buffer, version = -1): Promise<ZkStat> {
    return this.call<zookeeper.Stat>('setData', path, (c, done) => c.setData(path, data, version, done)).then(toStat);
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: ZkStat }> {
    const w = this.watchers.wrap(watcher);
    return this.call('getData', path, (c, done) => readData(c, path, w, done));
  }

  /** Resolves null when the node does not exist (the watch then fires on its creation). */
  exists(path: string, watcher?: Watcher): Promise<ZkStat | null> {
    const w = this.watchers.wrap(watcher);
    return this.call('exists', path, (c, done) => readExists(c, path, w, done));
  }

  getChildren(path: string, watcher?: Watcher): Promise<{ children: string[]; stat: ZkStat }> {
    const w = this.watchers.wrap(watcher);
    return this.call('getChildren', path, (c, done) => readChildren(c, path, w, done));
  }

  /**
   * One atomic transaction. On refusal it throws the typed error of the refused operation,
   * with `opIndex` naming it.
   */
  multi(ops: Op[]): Promise<OpResult[]> {
    if (ops.length === 0) return Promise.resolve([]);
    return this.call<OpResult[]>('multi', ops[0]!.path, (c, done) => commitMulti(c, ops, done));
  }

  // ---- helpers built on the primitives (helpers.ts) ----------------------------------------

  /**
   * Retries an idempotent read across connection loss and request timeouts, until
   * `deadlineMs` (default: one session timeout). Expiry and close are not retried, and a
   * call is never carried into the session that replaced its own.
   */
  retrying<T>(fn: () => Promise<T>, deadlineMs = this.sessionTimeoutMs): Promise<T> {
    return retrying(fn, deadlineMs, () => this._generation);
  }

  /** Creates a persistent path and its missing parents; existing nodes are fine. */
  mkdirp(path: string, data: Buffer = EMPTY): Promise<void> {
    return mkdirp((p, d) => this.create(p, d), path, data);
  }
}

export { zkError };
