// Requests the 3.4-era library cannot send, sent through its own queue: multiRead (22),
// addWatch (106) and removeWatches (18), ZooKeeper 3.6+.
//
// The library matches a reply to its request by xid and reads it by the request header's
// `type`, destroying the socket on a type it does not know. So each request here carries a
// header that serializes its real opcode on the wire but shows the reply path a type it
// knows: MULTI for multiRead (read by TransactionResponse, taught getData/getChildren items
// in wire-patches.ts), DELETE for addWatch/removeWatches (no payload to read; addWatch's
// 4-byte ErrorResponse body is left unread inside its length-framed packet). Everything else
// (xids, the pending queue, connection loss, chroot) is the library's own path, and the
// session's deadlines apply as to any request (PendingRequests).
//
// A server older than 3.6 answers these opcodes UNIMPLEMENTED (-6) and closes the connection
// (3.5 knows removeWatches). That answer is an UnsupportedServerError, never retried, and
// from then on this client refuses every such request at once: a master, worker or CLI on
// an old ensemble fails with one clear line instead of losing its connection in a loop.
// (The answer can come out of order, before replies of requests sent earlier: client-hooks.ts
// hands it to its request before the library drops the socket on the xid mismatch.)
import './wire-patches.js';
import { UNIMPLEMENTED, UnsupportedServerError } from './errors.js';
import { jute, type LibConnectionManager } from './library.js';
import { OP, type MultiItem } from './wire-patches.js';
import type { RawClient } from './raw-client.js';

export const OPCODE = { multiRead: 22, addWatch: 106, removeWatches: 18 } as const;
/** AddWatchModes.persistentRecursive. */
export const PERSISTENT_RECURSIVE = 1;
/** WatcherType of removeWatches: children 1, data 2, any 3. */
export const WATCHER_TYPE = { children: 1, data: 2, any: 3 } as const;

/** A request header: `wireType` on the wire, `type` for the library's reply path. */
export class WireHeader {
  xid = 0;
  constructor(
    readonly wireType: number,
    readonly type: number,
  ) {}
  byteLength(): number {
    return 8;
  }
  serialize(buffer: Buffer, offset: number): number {
    buffer.writeInt32BE(this.xid, offset);
    buffer.writeInt32BE(this.wireType, offset + 4);
    return 8;
  }
}

/** As the library's records do: the chroot prefixed to a path on the wire. */
export function withChroot(chroot: string | undefined, path: string): string {
  if (!chroot) return path;
  return path === '/' ? chroot : chroot + path;
}

/** Bytes of a jute ustring. */
export const ustringBytes = (s: string): number => 4 + Buffer.byteLength(s);

function writeUstring(buffer: Buffer, offset: number, s: string): number {
  const n = buffer.write(s, offset + 4, 'utf8');
  buffer.writeInt32BE(n, offset);
  return 4 + n;
}

function writeMultiHeader(buffer: Buffer, offset: number, type: number, done: boolean): number {
  buffer.writeInt32BE(type, offset);
  buffer.writeUInt8(done ? 1 : 0, offset + 4);
  buffer.writeInt32BE(-1, offset + 5);
  return 9;
}

/** Base of our payloads: a path-bearing record the library's queue() gives the chroot. */
export abstract class Payload {
  protected chroot: string | undefined;
  setChrootPath(path: string | undefined): void {
    this.chroot = path;
  }
  abstract byteLength(): number;
  abstract serialize(buffer: Buffer, offset: number): number;
}

export type ReadItem = { op: typeof OP.getData | typeof OP.getChildren; path: string };

/** MultiOperationRecord of reads: MultiHeader + {path, watch=false} per item, then done. */
export class MultiReadRequest extends Payload {
  constructor(readonly items: readonly ReadItem[]) {
    super();
  }
  byteLength(): number {
    let n = 9;
    for (const i of this.items) n += 9 + ustringBytes(withChroot(this.chroot, i.path)) + 1;
    return n;
  }
  serialize(buffer: Buffer, offset: number): number {
    let at = offset;
    for (const i of this.items) {
      at += writeMultiHeader(buffer, at, i.op, false);
      at += writeUstring(buffer, at, withChroot(this.chroot, i.path));
      buffer.writeUInt8(0, at); // watch = false
      at += 1;
    }
    at += writeMultiHeader(buffer, at, -1, true);
    return at - offset;
  }
}

/** AddWatchRequest {path, mode} and RemoveWatchesRequest {path, type}: a path and an int. */
export class PathIntRequest extends Payload {
  constructor(
    readonly path: string,
    readonly value: number,
  ) {
    super();
  }
  byteLength(): number {
    return ustringBytes(withChroot(this.chroot, this.path)) + 4;
  }
  serialize(buffer: Buffer, offset: number): number {
    const n = writeUstring(buffer, offset, withChroot(this.chroot, this.path));
    buffer.writeInt32BE(this.value, offset + n);
    return n + 4;
  }
}

type Done<T> = (err: unknown, value?: T) => void;

const NAMES: Record<number, string> = { [OPCODE.multiRead]: 'multiRead', [OPCODE.addWatch]: 'addWatch', [OPCODE.removeWatches]: 'removeWatches' };

/** Clients whose server answered one of these requests UNIMPLEMENTED. */
const unsupported = new WeakMap<RawClient, UnsupportedServerError>();

function unsupportedError(opcode: number): UnsupportedServerError {
  const what = NAMES[opcode] ? `${NAMES[opcode]} (opcode ${opcode})` : `opcode ${opcode}`;
  return new UnsupportedServerError(
    'UNSUPPORTED_SERVER',
    `the ZooKeeper server does not implement ${what}: drover needs ZooKeeper 3.6 or newer`,
    { op: NAMES[opcode] ?? `op${opcode}` },
  );
}

/** A request taken out of the library's queue if it is still there (not sent yet). */
export type Withdraw = () => void;

/**
 * Queues one request; returns its Withdraw, which the session calls at the request's
 * deadline: a request queued while disconnected would otherwise be sent after the next
 * connect, for a caller long gone (an addWatch nobody holds: an orphan watch).
 */
export function sendWire(client: RawClient, header: WireHeader, payload: Payload, done: Done<unknown>): Withdraw {
  const cm = client.connectionManager as unknown as LibConnectionManager;
  const known = unsupported.get(client);
  if (known) {
    done(known);
    return () => undefined;
  }
  const request = new jute.Request(header, payload);
  cm.queue(request, (err, response) => {
    if ((err as { code?: unknown } | null)?.code === UNIMPLEMENTED) {
      const e = unsupportedError(header.wireType);
      unsupported.set(client, e);
      return done(e);
    }
    if (err) return done(err);
    done(null, response?.payload);
  });
  return () => {
    const waiting = cm.packetQueue.queue;
    const i = waiting.findIndex((p) => p.request === request);
    if (i >= 0) waiting.splice(i, 1);
  };
}

/** Sends one multiRead; `done` gets one item per read, in order (type 4, 8 or -1 with err). */
export function sendMultiRead(client: RawClient, items: readonly ReadItem[], done: Done<MultiItem[]>): Withdraw {
  return sendWire(client, new WireHeader(OPCODE.multiRead, jute.OP_CODES.MULTI!), new MultiReadRequest(items), (err, payload) => {
    if (err) return done(err);
    const results = (payload as { results?: MultiItem[] } | undefined)?.results ?? [];
    if (results.length !== items.length) {
      return done(new Error(`multiRead: ${results.length} results for ${items.length} reads`));
    }
    done(null, results);
  });
}

/** Adds a persistent recursive watch on `path` for this connection. */
export function sendAddWatch(client: RawClient, path: string, done: Done<void>): Withdraw {
  return sendWire(client, new WireHeader(OPCODE.addWatch, jute.OP_CODES.DELETE!), new PathIntRequest(path, PERSISTENT_RECURSIVE), (err) => done(err));
}

/**
 * Sets this connection's one-shot watch on `path` again for the watchers the library already
 * holds (none is registered here): exists(watch) for data/exists watchers, getChildren(watch)
 * for child watchers. On ZooKeeper 3.8.0 this also ends a recursive watch's mode in that
 * table at `path` (tree-watch.ts). NO_NODE is an error here (exists still sets its watch).
 */
export function sendSetOneShot(client: RawClient, kind: 'data' | 'child', path: string, done: Done<void>): void {
  const cm = client.connectionManager as unknown as LibConnectionManager;
  const header = new jute.protocol.RequestHeader!();
  const payload = new (kind === 'data' ? jute.protocol.ExistsRequest! : jute.protocol.GetChildren2Request!)();
  header.type = kind === 'data' ? jute.OP_CODES.EXISTS! : jute.OP_CODES.GET_CHILDREN2!;
  payload.path = path;
  payload.watch = true;
  cm.queue(new jute.Request(header, payload), (err) => done(err));
}

/** Removes this connection's watches of `type` (WATCHER_TYPE) on `path`. */
export function sendRemoveWatches(client: RawClient, path: string, type: number, done: Done<void>): Withdraw {
  return sendWire(client, new WireHeader(OPCODE.removeWatches, jute.OP_CODES.DELETE!), new PathIntRequest(path, type), (err) => done(err));
}
