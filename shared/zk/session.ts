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
// - a bad port in the connect string is thrown from a socket callback: checked before;
// - the 3.4 protocol only: multiRead (getDataMany), persistent recursive watches (watchTree,
//   re-added at every connect), a SetWatches split under jute.maxbuffer and request counters
//   are added in wire.ts, tree-watch.ts and client-hooks.ts, on internals library.ts checks.
//
// The watchdog (watchdog.ts: silent server, lost session, event-loop stalls), the reaper of
// abandoned sessions (reaper.ts), the library client (raw-client.ts), connecting and closing
// it (connect.ts) and the request plumbing (requests.ts, helpers.ts) live in their own
// modules; this one owns the state.
//
// Its states (the only module that reads the library's states), options and events: session-types.ts.
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { parseConnectString } from './connect-string.js';
// First: fixes the library's transactions before any is built (throws if it cannot), then
// checks the library internals the wire extensions rely on and patches its multi replies.
import './version-zero-fix.js';
import './wire-patches.js';
import { interceptNotifications } from './client-hooks.js';
import { closeClient, connectClient, retryUntilConnected, untilConnected } from './connect.js';
import { AuthFailedError, SessionClosedError, SessionExpiredError, zkError } from './errors.js';
import { identityText } from './acl.js';
import { dropSocket, type RawClient } from './raw-client.js';
import { SessionReaper } from './reaper.js';
import { SessionRequests } from './session-requests.js';
import type { zkMetrics as ZkMetricsFactory } from '../metrics/zk-metrics.js';
import { DEFAULT_SESSION_TIMEOUT_MS, type SessionState, type ZkSessionEvents, type ZkSessionOptions } from './session-types.js';
import { SessionWatchdog } from './watchdog.js';

export type { CreateMode, Op, OpResult, WatchEvent, WatchEventType, Watcher, ZkStat } from './requests.js';
export type { ChildrenResult, ReadResult } from './multi-read.js';
export type { TreeEvent, TreeWatch } from './tree-watch.js';
export { resetZkCounters, zkCounters } from './counters.js';
export { DEFAULT_SESSION_TIMEOUT_MS, type SessionState, type ZkAuth, type ZkSessionEvents, type ZkSessionOptions } from './session-types.js';

export class ZkSession extends SessionRequests {
  readonly connectString: string;
  /** The session timeout asked for (negotiatedTimeoutMs: the one granted). */
  readonly sessionTimeoutMs: number;
  readonly connectTimeoutMs: number;
  private readonly requestTimeoutOption?: number;
  protected readonly log: Logger;

  private readonly watchdog: SessionWatchdog;
  /** Closes sessions we gave up ourselves, so their ephemerals go at once. */
  private readonly reaper: SessionReaper;
  private _sessionId = '';
  private authFailedWith?: (err: AuthFailedError) => void;
  /**
   * Resolves with the error when the server refuses the credentials mid-run (AUTH_FAILED on a
   * reconnect, e.g. to a server lacking the scheme): the session is closed then, and its owner
   * would stay up doing nothing; a process races this to exit. Never resolves otherwise.
   */
  readonly whenAuthFailed: Promise<AuthFailedError> = new Promise((resolve) => (this.authFailedWith = resolve));
  private closing?: Promise<void>;
  private reopening = false;

  private constructor(opts: ZkSessionOptions, zkMetrics?: typeof ZkMetricsFactory) {
    super();
    this.connectString = opts.connectString;
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.requestTimeoutOption = opts.requestTimeoutMs;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? Math.max(5000, this.sessionTimeoutMs);
    this.log = (opts.log ?? silentLogger).child({ component: 'zk-session' });
    this.auth = opts.auth ?? [];
    if (opts.metrics && zkMetrics) this.metrics = zkMetrics(opts.metrics, () => this._state === 'connected');
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
    // prom-client is loaded only by a session that has a registry to fill (a master's or a
    // worker's), not by every CLI command's (~70 ms of its start).
    const factory = opts.metrics ? (await import('../metrics/zk-metrics.js')).zkMetrics : undefined;
    const s = new ZkSession(opts, factory);
    try {
      await s.connectNewClient(s.connectTimeoutMs);
      // The connect reply comes before the auth packets' replies: one request queued behind
      // them fails with AUTH_FAILED if the server refused them, so open() says so itself.
      if (s.auth.length > 0) await s.exists('/');
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
  /** Deadline of one request: the option given, else the granted session timeout. */
  get requestTimeoutMs(): number {
    return this.requestTimeoutOption ?? this.negotiatedTimeoutMs;
  }

  // ---- connection management -------------------------------------------------------------

  private async connectNewClient(timeoutMs: number): Promise<void> {
    const client = await connectClient({
      connectString: this.connectString,
      sessionTimeoutMs: this.sessionTimeoutMs,
      timeoutMs,
      auth: this.auth,
      log: this.log,
      created: (c) => {
        this.client = c;
        // Tree-watch events of this client only: an old client's are for watches nobody holds.
        interceptNotifications(
          c,
          (type, path) => {
            if (c === this.client) this.trees.route(type, path);
          },
          (type, path) => {
            if (c === this.client) this.trees.afterRoute(type, path);
          },
        );
      },
      heard: (c) => {
        if (c === this.client) this.watchdog.heard();
      },
    });
    this._sessionId = client.getSessionId().toString('hex');
    this.watchdog.heard();
    this.attachClientListeners(client);
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
    // The server refused our credentials (an unknown scheme) and closes the connection; the
    // library will not reconnect, and neither do we: the same credentials get the same answer.
    client.on('authenticationFailed', () => {
      if (client !== this.client || this._state === 'closed') return;
      const line = `ZooKeeper refused the credentials of ${identityText(this.auth)} (AUTH_FAILED: no such scheme on the server?); check --zk-auth`;
      this.log.error({ sessionId: this._sessionId }, line);
      this.pending.failAll(() => new AuthFailedError('AUTH_FAILED', line));
      void this.close();
      this.authFailedWith?.(new AuthFailedError('AUTH_FAILED', line));
    });
  }

  private setState(next: SessionState): void {
    const prev = this._state;
    if (prev === next) return;
    this._state = next;
    if (next === 'connected') this.reaper.serversAnswer();
    // The first connect is no reconnect; any later one (same session or a new one) is.
    if (next === 'connected' && prev !== 'connecting') this.metrics?.reconnected();
    this.log.info({ state: next, previous: prev, sessionId: this._sessionId }, `zookeeper session ${next}`);
    // A new connection holds none of our server-side tree watches: add them again.
    if (next === 'connected') this.trees.rearm();
    this.emit('state', next, prev);
  }

  /** `declared`: we gave the session up ourselves (the server may still hold it). */
  private onExpired(reason: string, declared: boolean): void {
    if (this._state === 'expired' || this._state === 'closed') return;
    this.log.warn({ sessionId: this._sessionId, reason }, 'zookeeper session expired');
    this.setState('expired');
    this.metrics?.expired();
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
    try {
      await retryUntilConnected(
        async () => {
          await this.connectNewClient(Math.max(2000, this.sessionTimeoutMs));
          if ((this._state as SessionState) === 'closed') {
            this.client.close();
            return;
          }
          this._generation += 1;
          this.setState('connected');
          this.emit('session', this._sessionId);
        },
        () => this._state === 'expired',
        this.log,
      );
    } finally {
      this.reopening = false;
    }
  }

  /** Resolves once connected; rejects after timeoutMs or when closed. */
  async waitConnected(timeoutMs = this.sessionTimeoutMs): Promise<void> {
    if (this._state === 'connected') return;
    if (this._state === 'closed') throw new SessionClosedError('SESSION_CLOSED', 'session closed');
    await untilConnected(this, timeoutMs);
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
    this.metrics?.detach();
    this.pending.failAll(() => new SessionClosedError('SESSION_CLOSED', 'session closed'));
    this.trees.closeAll();
    this.reaper.stopAll();
    // Waits (briefly) for the server to acknowledge the close when connected: that is what
    // deletes our ephemerals now rather than a session timeout from now.
    if (this.client) await closeClient(this.client, wasConnected);
  }
}

export { zkError };
