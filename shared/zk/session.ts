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
// - the transaction version-0 bug is fixed at its source (patches/).
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
import zookeeper from 'node-zookeeper-client';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import {
  ConnectionLossError,
  RequestTimeoutError,
  SessionClosedError,
  SessionExpiredError,
  ZkError,
  fromClientError,
  zkError,
} from './errors.js';

export type SessionState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';
export type CreateMode = 'persistent' | 'ephemeral' | 'persistent_sequential' | 'ephemeral_sequential';

export interface ZkStat {
  version: number;
  cversion: number;
  numChildren: number;
  dataLength: number;
  ephemeralOwner: string; // hex session id, '0000000000000000' when persistent
  mtime: number;
  ctime: number;
}

export type WatchEventType = 'created' | 'deleted' | 'changed' | 'children';
export interface WatchEvent {
  type: WatchEventType;
  path: string;
}
export type Watcher = (event: WatchEvent) => void;

export type Op =
  | { op: 'create'; path: string; data?: Buffer; mode?: CreateMode }
  | { op: 'remove'; path: string; version?: number }
  | { op: 'setData'; path: string; data: Buffer; version?: number }
  | { op: 'check'; path: string; version?: number };

export type OpResult =
  | { op: 'create'; path: string }
  | { op: 'remove' }
  | { op: 'setData'; stat: ZkStat }
  | { op: 'check' };

export interface ZkSessionOptions {
  /** host:port[,host:port...] */
  connectString: string;
  /** Requested session timeout; the server clamps it to [2, 20] × tickTime. Default 6000. */
  sessionTimeoutMs?: number;
  /** Deadline of one request. Default: the session timeout. */
  requestTimeoutMs?: number;
  /** How long open() waits for the first session. Default: max(5000, session timeout). */
  connectTimeoutMs?: number;
  log?: Logger;
}

interface Pending {
  reject: (err: ZkError) => void;
  timer: NodeJS.Timeout;
}

type RawClient = zookeeper.Client & {
  connectionManager: {
    socket?: { destroy(): void };
    onSocketData: (buf: Buffer) => void;
    /** Bytes of an incomplete packet, kept by the library across reconnects. */
    pendingBuffer: Buffer | null;
    state: number;
  };
  getState(): { name: string; code: number };
};

const MODES: Record<CreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  persistent_sequential: zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
  ephemeral_sequential: zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

const EVENT_TYPES: Record<number, WatchEventType> = {
  1: 'created',
  2: 'deleted',
  3: 'changed',
  4: 'children',
};

function toStat(raw: zookeeper.Stat | undefined): ZkStat {
  const r = raw as unknown as Record<string, Buffer | number>;
  const long = (b: Buffer | number) => (Buffer.isBuffer(b) ? Number(b.readBigInt64BE(0)) : b);
  return {
    version: r.version as number,
    cversion: r.cversion as number,
    numChildren: r.numChildren as number,
    dataLength: r.dataLength as number,
    ephemeralOwner: Buffer.isBuffer(r.ephemeralOwner) ? r.ephemeralOwner.toString('hex') : String(r.ephemeralOwner),
    mtime: long(r.mtime),
    ctime: long(r.ctime),
  };
}

const EMPTY = Buffer.alloc(0);

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
  private readonly wrappedWatchers = new WeakMap<Watcher, (e: zookeeper.Event) => void>();
  /** Requests that have not called back yet; failed by us on expiry/close/deadline. */
  private readonly pending = new Set<Pending>();
  private _state: SessionState = 'connecting';
  private _sessionId = '';
  /** Increments with every new session: owners compare it to know their ephemerals are gone. */
  private _generation = 0;
  private lastHeardAt = Date.now();
  /** The last byte really heard from a server (the watchdog's resets of lastHeardAt aside). */
  private lastContactAt = Date.now();
  private stateSince = Date.now();
  private watchdog?: NodeJS.Timeout;
  private closing?: Promise<void>;
  private reopening = false;
  /** Clients reattaching to abandoned sessions to close them (see closeAbandoned). */
  private readonly reapers = new Set<RawClient>();

  private constructor(opts: ZkSessionOptions) {
    super();
    this.connectString = opts.connectString;
    this.sessionTimeoutMs = opts.sessionTimeoutMs ?? 6000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? this.sessionTimeoutMs;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? Math.max(5000, this.sessionTimeoutMs);
    this.log = (opts.log ?? silentLogger).child({ component: 'zk-session' });
  }

  /** Opens a session; rejects with ConnectionLossError if none is up within connectTimeoutMs. */
  static async open(opts: ZkSessionOptions): Promise<ZkSession> {
    const s = new ZkSession(opts);
    try {
      await s.connectNewClient(s.connectTimeoutMs);
    } catch (err) {
      await s.close();
      throw err;
    }
    s.setState('connected');
    s.startWatchdog();
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
    const t = (this.client as unknown as { getSessionTimeout?: () => number }).getSessionTimeout?.();
    return typeof t === 'number' && t > 0 ? t : this.sessionTimeoutMs;
  }

  // ---- connection management -------------------------------------------------------------

  private connectNewClient(timeoutMs: number): Promise<void> {
    const client = zookeeper.createClient(this.connectString, {
      sessionTimeout: this.sessionTimeoutMs,
      spinDelay: 100,
      retries: 0,
    }) as RawClient;
    this.client = client;
    this.guardSocketData(client);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        // Never connected: no session to close. Drop the socket too, so that no reply to
        // its connect request is read by a library that now thinks it is closing.
        client.close();
        client.connectionManager.socket?.destroy();
        reject(
          new ConnectionLossError('CONNECTION_LOSS', `cannot reach ZooKeeper at ${this.connectString} within ${timeoutMs} ms`, {
            op: 'connect',
          }),
        );
      }, timeoutMs);
      const onConnected = () => {
        cleanup();
        this._sessionId = client.getSessionId().toString('hex');
        this.lastHeardAt = this.lastContactAt = Date.now();
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

  /**
   * Wraps the library's socket data handler:
   * - records every byte heard from the server (the watchdog's evidence that it is alive);
   * - drops a partial packet left from an earlier socket (the library keeps it across
   *   reconnects and would read the new connection's bytes as its continuation);
   * - catches what the library throws from that handler on input it cannot parse (an unknown
   *   error code or event type, or a connect reply read after close() while connecting: seen
   *   in a chaos run as "Unknown code: -1965228031"). Uncaught, that kills the process; here
   *   it drops the connection, as a lost connection would.
   */
  private guardSocketData(client: RawClient): void {
    const cm = client.connectionManager;
    const onData = cm.onSocketData;
    let socket: unknown;
    cm.onSocketData = (buf: Buffer) => {
      if (client === this.client) this.lastHeardAt = this.lastContactAt = Date.now();
      if (cm.socket !== socket) {
        socket = cm.socket;
        cm.pendingBuffer = null;
      }
      try {
        onData.call(cm, buf);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'zookeeper client could not read a reply; dropping the connection');
        cm.pendingBuffer = null;
        cm.socket?.destroy();
      }
    };
  }

  private attachClientListeners(client: RawClient): void {
    client.on('connected', () => {
      if (client !== this.client) return;
      this.lastHeardAt = this.lastContactAt = Date.now();
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
    this.stateSince = Date.now();
    this.log.info({ state: next, previous: prev, sessionId: this._sessionId }, `zookeeper session ${next}`);
    this.emit('state', next, prev);
  }

  private startWatchdog(): void {
    // The server may grant less than we asked (its maxSessionTimeout): tick for the smaller.
    const tick = Math.max(50, Math.floor(Math.min(this.sessionTimeoutMs, 6000) / 6));
    this.watchdog = setInterval(() => this.checkHealth(), tick);
    this.watchdog.unref();
  }

  /**
   * Silent-server and lost-session detection the library lacks. It pings every third of the
   * session timeout when idle, so hearing nothing for two thirds means the server is gone or
   * frozen: drop the socket (pending requests fail, the library tries the next server).
   */
  private checkHealth(): void {
    const now = Date.now();
    // The timeout the server granted, not the one asked for: the server clamps it to
    // 2..20 ticks, and its pings (every third of it) and its expiry follow what it granted.
    const granted = this.negotiatedTimeoutMs;
    const readTimeout = Math.floor((granted * 2) / 3);
    if (this._state === 'connected' && now - this.lastHeardAt > readTimeout) {
      this.log.warn({ silentMs: now - this.lastHeardAt }, 'zookeeper server silent; dropping the connection');
      this.lastHeardAt = now;
      this.client.connectionManager.socket?.destroy();
      return;
    }
    if (this._state === 'disconnected') {
      // Counted from the last word of a server, as the server counts its expiry from the last
      // word of ours: a silent server was noticed only a read timeout after it went quiet.
      if (now - this.lastContactAt >= granted) {
        this.onExpired(`nothing heard from ZooKeeper for ${now - this.lastContactAt} ms (≥ session timeout ${granted} ms)`, true);
        return;
      }
      // A server that accepts TCP but never answers the handshake would hold the library
      // in CONNECTING forever; kick it on to the next server.
      if (now - this.lastHeardAt > readTimeout) {
        this.lastHeardAt = now;
        this.client.connectionManager.socket?.destroy();
      }
    }
  }

  /** `declared`: we gave the session up ourselves (the server may still hold it). */
  private onExpired(reason: string, declared: boolean): void {
    if (this._state === 'expired' || this._state === 'closed') return;
    this.log.warn({ sessionId: this._sessionId, reason }, 'zookeeper session expired');
    this.setState('expired');
    this.failPending(
      () => new SessionExpiredError('SESSION_EXPIRED', `ZooKeeper session ${this._sessionId} expired (${reason})`),
    );
    const abandoned = declared ? { id: this.client.getSessionId(), password: this.client.getSessionPassword() } : null;
    // Our listeners ignore a client that is no longer this.client; removing all listeners
    // would also remove the library's own state listener.
    this.client.close();
    this.client.connectionManager.socket?.destroy();
    this.emit('expired');
    if (abandoned) this.closeAbandoned(abandoned.id, abandoned.password);
    void this.reopen();
  }

  /**
   * A session we declared expired ourselves may still live on the server: while no quorum
   * can expire it (a lost quorum), and then for one more session timeout once a quorum is
   * back. Its ephemerals stay meanwhile: our old election node blocks every newer candidate
   * (nobody leads), our old member node keeps a dead incarnation's tasks assigned. Owners have
   * already dropped what it guarded, so reattach to it as soon as a server answers, only to
   * close it: its ephemerals go at once instead of a session timeout later.
   */
  private closeAbandoned(sessionId: Buffer, sessionPassword: Buffer): void {
    const hex = sessionId.toString('hex');
    const reaper = zookeeper.createClient(this.connectString, {
      sessionTimeout: this.sessionTimeoutMs,
      spinDelay: 100,
      retries: 0,
      sessionId,
      sessionPassword,
    } as zookeeper.Option) as RawClient;
    this.guardSocketData(reaper);
    const done = () => {
      clearTimeout(timer);
      this.reapers.delete(reaper);
      reaper.close();
      reaper.connectionManager.socket?.destroy();
    };
    // Past this the server has expired it by itself (or will, with no one to keep it alive).
    const timer = setTimeout(done, 3 * this.sessionTimeoutMs + 10_000);
    timer.unref();
    reaper.once('connected', () => {
      this.log.info({ sessionId: hex }, 'closed the abandoned zookeeper session (its ephemerals go now)');
      clearTimeout(timer);
      this.reapers.delete(reaper);
      reaper.close(); // sends closeSession; the library drops the socket on the reply
    });
    reaper.once('expired', done);
    this.reapers.add(reaper);
    reaper.connect();
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

  private failPending(make: () => ZkError): void {
    for (const p of [...this.pending]) {
      clearTimeout(p.timer);
      this.pending.delete(p);
      p.reject(make());
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
    if (this.watchdog) clearInterval(this.watchdog);
    const wasConnected = this._state === 'connected';
    this.setState('closed');
    this.failPending(() => new SessionClosedError('SESSION_CLOSED', 'session closed'));
    for (const r of this.reapers) {
      r.close();
      r.connectionManager.socket?.destroy();
    }
    this.reapers.clear();
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

  /**
   * Runs one library call with a deadline, failing it ourselves on expiry or close.
   * The library's callback may still arrive later; it is ignored then.
   */
  private call<T>(op: string, path: string, run: (client: RawClient, done: (err: unknown, value?: T) => void) => void): Promise<T> {
    if (this._state === 'closed') {
      return Promise.reject(new SessionClosedError('SESSION_CLOSED', `session closed (${op} ${path})`, { op, path }));
    }
    if (this._state === 'expired') {
      return Promise.reject(
        new SessionExpiredError('SESSION_EXPIRED', `ZooKeeper session expired; a new one is being opened (${op} ${path})`, {
          op,
          path,
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const entry: Pending = {
        reject: (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        },
        timer: setTimeout(() => {
          this.pending.delete(entry);
          entry.reject(
            new RequestTimeoutError('REQUEST_TIMEOUT', `no reply from ZooKeeper within ${this.requestTimeoutMs} ms (${op} ${path})`, {
              op,
              path,
            }),
          );
        }, this.requestTimeoutMs),
      };
      this.pending.add(entry);
      try {
        run(this.client, (err, value) => {
          if (settled) return;
          clearTimeout(entry.timer);
          this.pending.delete(entry);
          settled = true;
          if (err) reject(fromClientError(err, { op, path }));
          else resolve(value as T);
        });
      } catch (err) {
        clearTimeout(entry.timer);
        this.pending.delete(entry);
        settled = true;
        reject(fromClientError(err, { op, path }));
      }
    });
  }

  /** Same watcher, same wrapper: the library arms a watch once per function and path. */
  private wrapWatcher(watcher?: Watcher): ((e: zookeeper.Event) => void) | undefined {
    if (!watcher) return undefined;
    let w = this.wrappedWatchers.get(watcher);
    if (!w) {
      w = (e: zookeeper.Event) => {
        const type = EVENT_TYPES[e.getType()];
        if (type) watcher({ type, path: e.getPath() });
      };
      this.wrappedWatchers.set(watcher, w);
    }
    return w;
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
    const w = this.wrapWatcher(watcher);
    return this.call<{ data: Buffer; stat: ZkStat }>('getData', path, (c, done) => {
      const cb = (err: unknown, data?: Buffer, stat?: zookeeper.Stat) =>
        err ? done(err) : done(null, { data: data ?? EMPTY, stat: toStat(stat) });
      if (w) c.getData(path, w, cb);
      else c.getData(path, cb);
    });
  }

  /** Resolves null when the node does not exist (the watch then fires on its creation). */
  exists(path: string, watcher?: Watcher): Promise<ZkStat | null> {
    const w = this.wrapWatcher(watcher);
    return this.call<ZkStat | null>('exists', path, (c, done) => {
      const cb = (err: unknown, stat?: zookeeper.Stat) => (err ? done(err) : done(null, stat ? toStat(stat) : null));
      if (w) c.exists(path, w, cb);
      else c.exists(path, cb);
    });
  }

  getChildren(path: string, watcher?: Watcher): Promise<{ children: string[]; stat: ZkStat }> {
    const w = this.wrapWatcher(watcher);
    return this.call<{ children: string[]; stat: ZkStat }>('getChildren', path, (c, done) => {
      const cb = (err: unknown, children?: string[], stat?: zookeeper.Stat) =>
        err ? done(err) : done(null, { children: children ?? [], stat: toStat(stat) });
      if (w) c.getChildren(path, w, cb);
      else c.getChildren(path, cb);
    });
  }

  /**
   * One atomic transaction. On refusal it throws the typed error of the refused operation,
   * with `opIndex` naming it.
   */
  multi(ops: Op[]): Promise<OpResult[]> {
    if (ops.length === 0) return Promise.resolve([]);
    const first = ops[0]!.path;
    return this.call<OpResult[]>('multi', first, (c, done) => {
      const tx = c.transaction();
      for (const o of ops) {
        switch (o.op) {
          case 'create':
            tx.create(o.path, o.data ?? EMPTY, MODES[o.mode ?? 'persistent']);
            break;
          case 'remove':
            tx.remove(o.path, o.version ?? -1);
            break;
          case 'setData':
            tx.setData(o.path, o.data, o.version ?? -1);
            break;
          case 'check':
            tx.check(o.path, o.version ?? -1);
            break;
        }
      }
      tx.commit((err: unknown, results: Array<{ type: number; err?: number; path?: string; stat?: zookeeper.Stat }>) => {
        if (err) {
          const idx = Array.isArray(results) ? results.findIndex((r) => r.err !== undefined && r.err !== 0 && r.err !== -2) : -1;
          const o = idx >= 0 ? ops[idx] : undefined;
          done(
            fromClientError(err, {
              op: o ? `multi[${idx}] ${o.op}` : 'multi',
              path: o?.path ?? first,
              opIndex: idx >= 0 ? idx : undefined,
            }),
          );
          return;
        }
        done(
          null,
          results.map((r, i): OpResult => {
            const o = ops[i]!;
            switch (o.op) {
              case 'create':
                return { op: 'create', path: r.path ?? o.path };
              case 'setData':
                return { op: 'setData', stat: toStat(r.stat) };
              case 'remove':
                return { op: 'remove' };
              case 'check':
                return { op: 'check' };
            }
          }),
        );
      });
    });
  }

  // ---- helpers built on the primitives ------------------------------------------------------

  /**
   * Retries an idempotent read across connection loss and request timeouts, until
   * `deadlineMs` (default: one session timeout). Expiry and close are not retried.
   */
  async retrying<T>(fn: () => Promise<T>, deadlineMs = this.sessionTimeoutMs): Promise<T> {
    const until = Date.now() + deadlineMs;
    const generation = this._generation;
    let delay = 50;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ConnectionLossError) || Date.now() + delay > until) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
        // Never carry a call into a new session: an ephemeral created there would be owned
        // by a session its caller did not mean, and watches it arms would be ignored.
        if (this._generation !== generation) {
          throw new SessionExpiredError('SESSION_EXPIRED', `ZooKeeper session replaced while retrying: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Creates a persistent path and its missing parents; existing nodes are fine. */
  async mkdirp(path: string, data: Buffer = EMPTY): Promise<void> {
    const parts = path.split('/').filter(Boolean);
    let cur = '';
    for (let i = 0; i < parts.length; i++) {
      cur += '/' + parts[i];
      try {
        await this.create(cur, i === parts.length - 1 ? data : EMPTY);
      } catch (err) {
        if (!(err instanceof ZkError && err.code === 'NODE_EXISTS')) throw err;
      }
    }
  }
}

export { zkError };
