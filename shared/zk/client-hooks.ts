// Per-client hooks on a library client's connection manager (its own instance properties, no
// prototype touched; library.ts has checked the code they rely on):
// - counting every packet as the library takes it off its queue to write it (counters.ts);
// - splitting the reconnect SetWatches into requests of at most 128 KiB, as the Java client
//   does: the library sends every watched path in one request, and the server refuses (closes
//   the connection on) a request over jute.maxbuffer, 1 MiB by default. A client watching
//   ~40,000 paths could then never reconnect: it connected, sent SetWatches, was cut, again.
// - the reconnect's auth and SetWatches sent FIRST, before the requests that waited in the
//   queue while disconnected (as the Java client's primeConnection puts them, addFirst): the
//   library appended them after those, so a request ran before its connection's auth, and an
//   addWatch queued while disconnected was followed by the SetWatches of a one-shot on the
//   same root, which turns the recursive watch back into a one-shot (ZooKeeper 3.8.0,
//   ZOOKEEPER-4466). An auth or SetWatches still queued from a socket that closed before its
//   handshake is dropped for the new ones (the library queued them at every TCP connect: as
//   many copies as failed attempts);
// - answering a request the server refused as UNIMPLEMENTED out of order (a server older than
//   3.6 answers multiRead/addWatch at once, ahead of replies to requests sent before it, then
//   closes the connection): the library dropped the socket on the xid mismatch and failed it
//   as a connection loss, which is retried, in a loop; and it lost the request it expected
//   instead (taken off its queue before the xids are compared: never called back). The
//   refused request gets its UNIMPLEMENTED, and the socket is dropped here, so every other
//   request in flight fails as a connection loss;
// - handing each watch notification to the tree watches before (and after) the library's
//   one-shot registry, and a NodeChildrenChanged the server swallowed to that registry.
import './library.js';
import { countRequest } from './counters.js';
import { UNIMPLEMENTED } from './errors.js';
import { Exception, jute, registryEmit, type JuteRecord, type LibConnectionManager, type LibPacket } from './library.js';
import type { RawClient } from './raw-client.js';
import { ustringBytes, withChroot } from './wire.js';

/** The Java client's bound on one SetWatches (ClientCnxn.SET_WATCHES_MAX_LENGTH). */
export const SET_WATCHES_MAX_BYTES = 128 * 1024;

const cmOf = (client: RawClient): LibConnectionManager => client.connectionManager as unknown as LibConnectionManager;

/** Counts each packet this client sends (the connect handshake is counted by raw-client.ts). */
export function countPackets(client: RawClient): void {
  const queue = cmOf(client).packetQueue;
  const shift = queue.shift;
  queue.shift = function (this: unknown): LibPacket | undefined {
    const packet = shift.call(this);
    const header = packet?.request.header;
    if (packet && header) {
      const type = header.wireType ?? header.type;
      const payload = packet.request.payload as { ops?: unknown[]; items?: unknown[] } | null;
      countRequest(type, payload?.ops?.length ?? payload?.items?.length ?? 1);
    }
    return packet;
  };
}

export interface WatchLists {
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
}

/**
 * Splits watch lists into parts whose SetWatches request (length prefix, header, zxid, three
 * vectors, every path with the chroot it is sent with) is at most `maxBytes`; a path too long
 * for any part goes alone.
 */
export function splitWatchLists(lists: WatchLists, chroot: string | undefined, maxBytes = SET_WATCHES_MAX_BYTES): WatchLists[] {
  const base = 4 + 8 + 8 + 3 * 4;
  const parts: WatchLists[] = [];
  let part: WatchLists = { dataWatches: [], existWatches: [], childWatches: [] };
  let size = base;
  let count = 0;
  for (const kind of ['dataWatches', 'existWatches', 'childWatches'] as const) {
    for (const path of lists[kind]) {
      const bytes = ustringBytes(withChroot(chroot, path));
      if (count > 0 && size + bytes > maxBytes) {
        parts.push(part);
        part = { dataWatches: [], existWatches: [], childWatches: [] };
        size = base;
        count = 0;
      }
      part[kind].push(path);
      size += bytes;
      count += 1;
    }
  }
  if (count > 0) parts.push(part);
  return parts;
}

/** Makes this client send its reconnect SetWatches in parts of at most 128 KiB. */
export function splitSetWatches(client: RawClient, maxBytes = SET_WATCHES_MAX_BYTES): void {
  const cm = cmOf(client);
  const queue = cm.queue;
  const SetWatches = jute.protocol.SetWatches!;
  cm.queue = function (this: LibConnectionManager, request: unknown, callback?: Parameters<LibConnectionManager['queue']>[1]): void {
    const payload = (request as { payload?: unknown } | null)?.payload;
    if (!(payload instanceof SetWatches)) return queue.call(this, request, callback);
    const sw = payload as JuteRecord & WatchLists & { relativeZxid: Buffer };
    const header = (request as { header: JuteRecord }).header;
    const parts = splitWatchLists(sw, this.chrootPath, maxBytes);
    // One part (the common case) is the library's own request, untouched.
    if (parts.length <= 1) return queue.call(this, request, callback);
    for (const p of parts) {
      const h = new jute.protocol.RequestHeader!();
      h.type = header.type;
      h.xid = header.xid;
      const record = new SetWatches();
      record.relativeZxid = sw.relativeZxid;
      Object.assign(record, p);
      queue.call(this, new jute.Request(h, record), callback);
    }
  };
}

/** The library's CONNECTED and CONNECTED_READ_ONLY states: replies are read. */
const LIB_CONNECTED = new Set([2, 3]);
/** size, xid, zxid, err: the head of every reply. */
const REPLY_HEAD_BYTES = 20;

type DataCm = LibConnectionManager & {
  socket?: { destroy(): void };
  onSocketData(buffer: Buffer): void;
  pendingBuffer: Buffer | null;
  pendingQueue: LibPacket[];
  state: number;
};

/**
 * Makes this client hand an UNIMPLEMENTED reply to its own request even when that reply
 * comes before replies the library still waits for; the socket is then dropped (the server
 * closes the connection after such a reply anyway).
 */
export function answerUnimplemented(client: RawClient): void {
  const cm = cmOf(client) as DataCm;
  const onData = cm.onSocketData;
  // The library calls this once per reply (then again for what follows it in the buffer),
  // through the instance property: every reply's head is seen here before it is read.
  cm.onSocketData = function (this: unknown, buffer: Buffer): void {
    if (LIB_CONNECTED.has(cm.state) && answeredOutOfOrder(cm, buffer)) {
      cm.pendingBuffer = null;
      cm.socket?.destroy(); // the library fails what is in flight and reconnects
      return;
    }
    onData.call(cm, buffer);
  };
}

/** An UNIMPLEMENTED reply to a request that is not first in line: answers it, true. */
function answeredOutOfOrder(cm: DataCm, buffer: Buffer): boolean {
  const held = cm.pendingBuffer;
  const head = !held ? buffer : held.length >= REPLY_HEAD_BYTES ? held : Buffer.concat([held, buffer.subarray(0, REPLY_HEAD_BYTES)]);
  if (head.length < REPLY_HEAD_BYTES || head.readInt32BE(16) !== UNIMPLEMENTED) return false;
  const xid = head.readInt32BE(4);
  if (xid < 0) return false;
  const at = cm.pendingQueue.findIndex((p) => p.request.header?.xid === xid);
  if (at <= 0) return false; // first in line (or none): the library reads it as it should
  const [packet] = cm.pendingQueue.splice(at, 1);
  packet!.callback?.(Exception.create(UNIMPLEMENTED));
  return true;
}

/** What the library queues at each TCP connect: auth packets and SetWatches. */
function isPrime(packet: LibPacket): boolean {
  const type = packet.request.header?.type;
  return type === jute.OP_CODES.AUTH || type === jute.OP_CODES.SET_WATCHES;
}

/**
 * Makes this client send, at each connect, its auth packets and SetWatches before anything
 * that was queued while it was disconnected; stale ones from an earlier socket are dropped.
 */
export function primeFirst(client: RawClient): void {
  const cm = cmOf(client);
  const onConnected = cm.onSocketConnected;
  // The library binds this handler at each connect(), so the override applies to every socket.
  cm.onSocketConnected = function (this: LibConnectionManager): void {
    // Nothing is sent before the connect reply: the queue can be rebuilt in place.
    const waiting = cm.packetQueue.queue.splice(0);
    try {
      onConnected.call(this);
    } finally {
      for (const p of waiting) if (!isPrime(p)) cm.packetQueue.queue.push(p);
    }
  };
}

/**
 * Calls `before` with each notification (type number, chroot-free path), then the library's
 * registry, then `after`.
 */
export function interceptNotifications(
  client: RawClient,
  before: (type: number, path: string) => void,
  after: (type: number, path: string) => void,
): void {
  const wm = cmOf(client).watcherManager;
  const emit = wm.emit;
  wm.emit = function (this: unknown, event: { type: number; path: string }): void {
    if (event) before(event.type, event.path);
    emit.call(this, event);
    if (event) after(event.type, event.path);
  };
}

const NODE_CHILDREN_CHANGED = 4;
const SYNC_CONNECTED = 3;

/**
 * Hands the library's registry a NodeChildrenChanged of `path` (chroot-free) that the server
 * did not send: straight to its own emit, past the wrapper above (it is no notification).
 */
export function emitChildrenChanged(client: RawClient, path: string): void {
  registryEmit(cmOf(client).watcherManager, { type: NODE_CHILDREN_CHANGED, state: SYNC_CONNECTED, path });
}
