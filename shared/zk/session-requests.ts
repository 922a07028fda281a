// The request API of a session, on its current library client: every call with a deadline
// (the table of pending calls, which the session fails itself on expiry or close, since the
// library may never call them back), refused at once when closed or between sessions; one
// wrapper per watcher function; the helpers built on the primitives. ZkSession (session.ts)
// owns the client and its state, and extends this.
import { EventEmitter } from 'node:events';
import type zookeeper from 'node-zookeeper-client';
import type { Logger } from '../log.js';
import type { ZkMetrics } from '../metrics/zk-metrics.js';
import { NoAuthError, SessionClosedError, SessionExpiredError, ZkError } from './errors.js';
import { AclTable, PERMS, aclBytes, fromLibAcl, identityText, isMasked, permsOf, toLibAcl, type Acl } from './acl.js';
import { permissionDenied } from './auth-errors.js';
import { emitChildrenChanged } from './client-hooks.js';
import { validatePath } from './library.js';
import { mkdirp, retrying } from './helpers.js';
import { getChildrenMany, getDataMany, type ChildrenResult, type ReadResult, type SendReads } from './multi-read.js';
import { forgetWatcher, type RawClient } from './raw-client.js';
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
import type { SessionState, ZkAuth, ZkSessionEvents } from './session-types.js';
import { TreeWatches, type TreeEvent, type TreeWatch } from './tree-watch.js';
import { sendAddWatch, sendMultiRead, sendRemoveWatches, sendSetOneShot } from './wire.js';

export abstract class SessionRequests extends EventEmitter<ZkSessionEvents> {
  /** Current library client; replaced (never reused) after an expiry. */
  protected client!: RawClient;
  protected _state: SessionState = 'connecting';
  /** Increments with every new session: owners compare it to know their ephemerals are gone. */
  protected _generation = 0;
  private readonly watchers = new WatcherWrappers();
  /** Requests that have not called back yet; failed by the session on expiry/close, by us at their deadline. */
  protected readonly pending = new PendingRequests(() => this.requestTimeoutMs);
  protected abstract readonly log: Logger;
  /** Persistent recursive watches: routed by the session's clients, re-added at each connect. */
  protected readonly trees: TreeWatches;
  /** drover_zk_* metrics, when the session was given a registry (set by ZkSession). */
  protected metrics?: ZkMetrics;
  /** Identities sent at every connect (set by ZkSession); named, without secrets, in permission errors. */
  protected auth: readonly ZkAuth[] = [];
  /** Each opened root's ACL: every create under it carries it (acl.ts). */
  private readonly acls = new AclTable();

  constructor() {
    super();
    const self = this;
    this.trees = new TreeWatches({
      addWatch: (root) => this.call<void>('addWatch', root, (c, done) => sendAddWatch(c, root, done)),
      removeWatches: (root, type) => this.call<void>('removeWatches', root, (c, done) => sendRemoveWatches(c, root, type, done)),
      setOneShot: (path, kind) => this.call<void>('setOneShot', path, (c, done) => sendSetOneShot(c, kind, path, done)),
      fireChildWatchers: (path) => {
        if (this.client) emitChildrenChanged(this.client, path);
      },
      connected: () => this._state === 'connected',
      oneShots: (path) => {
        const wm = this.client?.connectionManager.watcherManager;
        const held = (r: Record<string, { listenerCount(e: string): number } | undefined> | undefined) => (r?.[path]?.listenerCount('notification') ?? 0) > 0;
        return { data: held(wm?.dataWatchers) || held(wm?.existenceWatchers), child: held(wm?.childWatchers) };
      },
      get log() {
        return self.log;
      },
    });
  }

  /** Deadline of one request. */
  abstract get requestTimeoutMs(): number;
  /** The session timeout the server granted. */
  abstract get negotiatedTimeoutMs(): number;

  /** One library call with a deadline; refused at once when closed or between sessions. */
  protected call<T>(op: string, path: string, run: (client: RawClient, done: (err: unknown, value?: T) => void) => void | (() => void)): Promise<T> {
    if (this._state === 'closed') {
      return Promise.reject(new SessionClosedError('SESSION_CLOSED', `session closed (${op} ${path})`, { op, path }));
    }
    if (this._state === 'expired') {
      return Promise.reject(
        new SessionExpiredError('SESSION_EXPIRED', `ZooKeeper session expired; a new one is being opened (${op} ${path})`, { op, path }),
      );
    }
    const p = this.pending.run(op, path, this.client, run).catch((err: unknown) => {
      // NO_AUTH: one line naming the permission (never retried: the same identity gets the same answer).
      throw err instanceof NoAuthError ? permissionDenied(err, identityText(this.auth), this.acls.forPath(err.path ?? path).root) : err;
    });
    if (!this.metrics) return p;
    // Every request a session sends passes here: one increment and one observation each.
    const timer = this.metrics.request(op);
    p.then(
      () => timer.done(),
      (err: unknown) => timer.done(err),
    );
    return p;
  }

  create(path: string, data: Buffer = EMPTY, mode: CreateMode = 'persistent', acl?: Acl): Promise<string> {
    let acls;
    try {
      acls = toLibAcl(acl ?? this.aclFor(path));
    } catch (err) {
      return Promise.reject(err);
    }
    return this.call<string>('create', path, (c, done) => c.create(path, data, acls, MODES[mode], done));
  }

  /**
   * Makes every create under `root` carry `acl` (read from the root when its layout is opened:
   * shared/protocol/layout.ts); the deepest registered root holding a path wins.
   */
  useRootAcl(root: string, acl: Acl): void {
    this.acls.set(root, acl);
  }

  /** True when the session sends credentials (--zk-auth). */
  get hasAuth(): boolean {
    return this.auth.length > 0;
  }

  /**
   * The ACL a create of `path` carries. Throws a NoAuthError when this identity could only read
   * a masked copy of its root's ACL (no ADMIN there): creating with it would lock everyone out.
   */
  aclFor(path: string): Acl {
    const { root, acl } = this.acls.forPath(path);
    if (acl.some(isMasked)) {
      // Masked digests still name their users: an identity granted no CREATE there is told so.
      if (!(permsOf(acl, this.auth) & PERMS.c)) throw permissionDenied(new NoAuthError('NO_AUTH', 'no CREATE', { op: 'create', path }), identityText(this.auth), root);
      const e = new NoAuthError('NO_AUTH', `permission denied: create ${path} needs the ACL of ${root}, readable only with ADMIN on ${root} (this client: ${identityText(this.auth)}; check --zk-auth)`, { op: 'create', path });
      // One kind per root and identity (a loop's log line), not one per node.
      e.refusal = `ADMIN on ${root} (its ACL) for ${identityText(this.auth)}`;
      throw e;
    }
    return acl;
  }

  getACL(path: string): Promise<{ acl: Acl; stat: ZkStat }> {
    return this.call<{ acl: Acl; stat: ZkStat }>('getACL', path, (c, done) =>
      c.getACL(path, (err, acls, stat) => (err ? done(err) : done(null, { acl: fromLibAcl(acls), stat: toStat(stat) }))),
    );
  }

  setACL(path: string, acl: Acl, version = -1): Promise<ZkStat> {
    const acls = toLibAcl(acl);
    return this.call<zookeeper.Stat>('setACL', path, (c, done) => c.setACL(path, acls, version, done)).then(toStat);
  }

  remove(path: string, version = -1): Promise<void> {
    return this.call<void>('remove', path, (c, done) => c.remove(path, version, (err) => done(err)));
  }

  setData(path: string, data: Buffer, version = -1): Promise<ZkStat> {
    return this.call<zookeeper.Stat>('setData', path, (c, done) => c.setData(path, data, version, done)).then(toStat);
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: ZkStat }> {
    const w = this.watchers.wrap(watcher);
    const p = this.call<{ data: Buffer; stat: ZkStat }>('getData', path, (c, done) => readData(c, path, w, done));
    return w ? this.afterOneShot(path, p) : p;
  }

  /** Resolves null when the node does not exist (the watch then fires on its creation). */
  exists(path: string, watcher?: Watcher): Promise<ZkStat | null> {
    const w = this.watchers.wrap(watcher);
    const p = this.call<ZkStat | null>('exists', path, (c, done) => readExists(c, path, w, done));
    return w ? this.afterOneShot(path, p) : p;
  }

  /** A one-shot data watch on a tree-watched root downgrades the server's watch there (tree-watch.ts). */
  private afterOneShot<T>(path: string, p: Promise<T>): Promise<T> {
    if (!this.trees.has(path)) return p;
    return p.finally(() => this.trees.reassert(path));
  }

  /**
   * A watcher on a tree-watched root also fires, once, after a one-shot data watch on that
   * root made the session add the tree watch again (tree-watch.ts: its gap may hide a change).
   */
  getChildren(path: string, watcher?: Watcher): Promise<{ children: string[]; stat: ZkStat }> {
    const w = this.watchers.wrap(watcher);
    return this.call('getChildren', path, (c, done) => readChildren(c, path, w, done));
  }

  /**
   * Forgets `watcher` on `path`'s data watch in this client (it will not be re-armed after a
   * reconnect; one the server holds still fires, into nothing): for an owner that is done.
   */
  forgetDataWatch(path: string, watcher: Watcher): void {
    const w = this.watchers.wrapped(watcher);
    if (w && this.client) forgetWatcher(this.client, 'data', path, w);
  }

  /**
   * One atomic transaction. On refusal it throws the typed error of the refused operation,
   * with `opIndex` naming it.
   */
  multi(ops: Op[]): Promise<OpResult[]> {
    if (ops.length === 0) return Promise.resolve([]);
    let aclOf;
    try {
      for (const o of ops) if (o.op === 'create') this.aclFor(o.path);
      aclOf = (path: string) => toLibAcl(this.aclFor(path));
    } catch (err) {
      return Promise.reject(err);
    }
    return this.call<OpResult[]>('multi', ops[0]!.path, (c, done) => commitMulti(c, ops, aclOf, done));
  }

  /** Reads many znodes' data in multiReads of `maxPerRequest` (default 100) paths, pipelined; no watches. */
  getDataMany(paths: readonly string[], opts?: { maxPerRequest?: number }): Promise<ReadResult[]> {
    return getDataMany(paths, this.sendReads, opts?.maxPerRequest);
  }

  /** Children of many directories in one multiRead per `maxPerRequest` (default 50) paths. */
  getChildrenMany(paths: readonly string[], opts?: { maxPerRequest?: number }): Promise<ChildrenResult[]> {
    return getChildrenMany(paths, this.sendReads, opts?.maxPerRequest);
  }

  private readonly sendReads: SendReads = (items) => this.call('multiRead', items[0]!.path, (c, done) => sendMultiRead(c, items, done));

  /**
   * A persistent recursive watch on `path` (tree-watch.ts): every create/delete/data change of
   * it or a descendant, in zxid order; after every (re)connect it is re-added, then `onReset()`
   * runs (the consumer re-reads what it mirrors); onReset also runs once when first armed.
   * Resolves once armed; rejects (and is gone) if that first addWatch fails.
   */
  watchTree(path: string, onEvent: (e: TreeEvent) => void, onReset: () => void): Promise<TreeWatch> {
    try {
      validatePath(path);
    } catch (err) {
      return Promise.reject(new ZkError('ZK_ERROR', `watchTree: ${(err as Error).message}`, { op: 'watchTree', path }));
    }
    return this.trees.open(path, onEvent, onReset);
  }

  // Helpers built on the primitives (helpers.ts).

  /**
   * Retries an idempotent read across connection loss and request timeouts, until
   * `deadlineMs` (default: the granted session timeout, after which the watchdog gives the
   * session up). Expiry and close are not retried, and a call is never carried into the
   * session that replaced its own.
   */
  retrying<T>(fn: () => Promise<T>, deadlineMs = this.negotiatedTimeoutMs): Promise<T> {
    return retrying(fn, deadlineMs, () => this._generation);
  }

  /** Creates a persistent path and its missing parents; existing nodes are fine. */
  mkdirp(path: string, data: Buffer = EMPTY): Promise<void> {
    return mkdirp((p, d) => this.create(p, d), path, data);
  }
}
