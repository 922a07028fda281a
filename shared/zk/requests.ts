// Request plumbing of the session: the public request types, the table of pending calls
// (each with a deadline, failed by the session itself on expiry or close, since the library
// may never call them back), watcher wrappers and the translation of a multi (each create
// with the ACL of its root: aclOf).
import zookeeper from 'node-zookeeper-client';
import { RequestTimeoutError, type ZkError, fromClientError } from './errors.js';
import type { RawClient } from './raw-client.js';

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

export const EMPTY = Buffer.alloc(0);

export const MODES: Record<CreateMode, number> = {
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

export function toStat(raw: zookeeper.Stat | undefined): ZkStat {
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

interface Pending {
  reject: (err: ZkError) => void;
  timer: NodeJS.Timeout;
}

/** Calls that have not called back yet, each with a deadline. */
export class PendingRequests {
  private readonly pending = new Set<Pending>();

  /** `timeoutMs` is read for every call (the session's follows the timeout the server granted). */
  constructor(private readonly timeoutMs: () => number) {}

  /**
   * Runs one library call with a deadline. The library's callback may still arrive after
   * the deadline or after failAll(); it is ignored then. `fn` may return a function that
   * withdraws the request if it was not sent yet, called at the deadline.
   */
  run<T>(op: string, path: string, client: RawClient, fn: (client: RawClient, done: (err: unknown, value?: T) => void) => void | (() => void)): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let withdraw: void | (() => void);
      const timeoutMs = this.timeoutMs();
      const entry: Pending = {
        reject: (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        },
        timer: setTimeout(() => {
          this.pending.delete(entry);
          if (withdraw) withdraw();
          entry.reject(
            new RequestTimeoutError('REQUEST_TIMEOUT', `no reply from ZooKeeper within ${timeoutMs} ms (${op} ${path})`, { op, path }),
          );
        }, timeoutMs),
      };
      this.pending.add(entry);
      const finish = (err: unknown, value?: T) => {
        if (settled) return;
        clearTimeout(entry.timer);
        this.pending.delete(entry);
        settled = true;
        if (err) reject(fromClientError(err, { op, path }));
        else resolve(value as T);
      };
      try {
        withdraw = fn(client, finish);
      } catch (err) {
        finish(err ?? new Error('library call threw'));
      }
    });
  }

  /** Fails every pending call with `make()` (expiry, close). */
  failAll(make: () => ZkError): void {
    for (const p of [...this.pending]) {
      clearTimeout(p.timer);
      this.pending.delete(p);
      p.reject(make());
    }
  }
}

/** Same watcher, same wrapper: the library arms a watch once per function and path. */
export class WatcherWrappers {
  private readonly wrapped_ = new WeakMap<Watcher, (e: zookeeper.Event) => void>();

  wrap(watcher?: Watcher): ((e: zookeeper.Event) => void) | undefined {
    if (!watcher) return undefined;
    let w = this.wrapped_.get(watcher);
    if (!w) {
      w = (e: zookeeper.Event) => {
        const type = EVENT_TYPES[e.getType()];
        if (type) watcher({ type, path: e.getPath() });
      };
      this.wrapped_.set(watcher, w);
    }
    return w;
  }

  /** The wrapper made for `watcher`, if any (to take it out of the library's registry). */
  wrapped(watcher: Watcher): ((e: zookeeper.Event) => void) | undefined {
    return this.wrapped_.get(watcher);
  }
}

type LibWatcher = ((e: zookeeper.Event) => void) | undefined;
type Done<T> = (err: unknown, value?: T) => void;

export function readData(c: RawClient, path: string, w: LibWatcher, done: Done<{ data: Buffer; stat: ZkStat }>): void {
  const cb = (err: unknown, data?: Buffer, stat?: zookeeper.Stat) => (err ? done(err) : done(null, { data: data ?? EMPTY, stat: toStat(stat) }));
  if (w) c.getData(path, w, cb);
  else c.getData(path, cb);
}

export function readExists(c: RawClient, path: string, w: LibWatcher, done: Done<ZkStat | null>): void {
  const cb = (err: unknown, stat?: zookeeper.Stat) => (err ? done(err) : done(null, stat ? toStat(stat) : null));
  if (w) c.exists(path, w, cb);
  else c.exists(path, cb);
}

export function readChildren(c: RawClient, path: string, w: LibWatcher, done: Done<{ children: string[]; stat: ZkStat }>): void {
  const cb = (err: unknown, children?: string[], stat?: zookeeper.Stat) =>
    err ? done(err) : done(null, { children: children ?? [], stat: toStat(stat) });
  if (w) c.getChildren(path, w, cb);
  else c.getChildren(path, cb);
}

type RawResult = { type: number; err?: number; path?: string; stat?: zookeeper.Stat };

/**
 * Sends `ops` as one transaction. On refusal `done` gets the typed error of the refused
 * operation, with `opIndex` naming it.
 */
export function commitMulti(
  client: RawClient,
  ops: Op[],
  aclOf: (path: string) => InstanceType<typeof zookeeper.ACL>[],
  done: (err: unknown, results?: OpResult[]) => void,
): void {
  const first = ops[0]!.path;
  const tx = client.transaction();
  for (const o of ops) {
    switch (o.op) {
      case 'create':
        tx.create(o.path, o.data ?? EMPTY, aclOf(o.path), MODES[o.mode ?? 'persistent']);
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
  tx.commit((err: unknown, results: RawResult[]) => {
    if (err) {
      const idx = Array.isArray(results) ? results.findIndex((r) => r.err !== undefined && r.err !== 0 && r.err !== -2) : -1;
      const o = idx >= 0 ? ops[idx] : undefined;
      done(fromClientError(err, { op: o ? `multi[${idx}] ${o.op}` : 'multi', path: o?.path ?? first, opIndex: idx >= 0 ? idx : undefined }));
      return;
    }
    done(null, results.map((r, i) => toOpResult(ops[i]!, r)));
  });
}

function toOpResult(o: Op, r: RawResult): OpResult {
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
}
