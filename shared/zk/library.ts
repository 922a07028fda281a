// The internals of node-zookeeper-client 1.1.3 that the wire extensions (multiRead, tree
// watches, the SetWatches split, request counters) build on, loaded and checked in one place.
//
// Those extensions wrap or replace library functions, or depend on exactly how one of them
// works (how a reply is dispatched by its request's type, how a notification reaches the
// watcher registry, how the reconnect SetWatches is queued). The sha256 of each such
// function's source is checked when this module loads: on any other code, loading drover
// throws LibraryMismatchError instead of running extensions whose ground has moved.
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { LibraryMismatchError } from './version-zero-fix.js';

const require = createRequire(import.meta.url);

export const LIBRARY = 'node-zookeeper-client';
export const LIBRARY_VERSION = '1.1.3';

/** A jute record of the library: (de)serializes itself, prepends/strips a chroot on `path`. */
export interface JuteRecord {
  byteLength(): number;
  serialize(buffer: Buffer, offset: number): number;
  deserialize(buffer: Buffer, offset: number): number;
  setChrootPath(path: string | undefined): void;
  [field: string]: unknown;
}
type RecordClass = new (...args: unknown[]) => JuteRecord;

export interface JuteModule {
  OP_CODES: Record<string, number>;
  protocol: Record<string, RecordClass>;
  data: Record<string, RecordClass>;
  Request: new (header: unknown, payload: unknown) => { header: unknown; payload: unknown; toBuffer(): Buffer };
  TransactionResponse: { prototype: Record<string | symbol, unknown> };
}

export interface ExceptionModule {
  create: (code: number, path?: string) => Error;
  prototype: object;
  [name: string]: unknown;
}

type Proto = Record<string | symbol, unknown>;

export const jute = require(`${LIBRARY}/lib/jute/index.js`) as JuteModule;
export const Exception = require(`${LIBRARY}/lib/Exception.js`) as ExceptionModule;
const ConnectionManager = require(`${LIBRARY}/lib/ConnectionManager.js`) as { prototype: Proto };
const WatcherManager = require(`${LIBRARY}/lib/WatcherManager.js`) as { prototype: Proto };
const PacketQueue = require(`${LIBRARY}/lib/PacketQueue.js`) as { prototype: Proto };
const PathModule = require(`${LIBRARY}/lib/Path.js`) as { validate(path: string): void };

/** The library's own WatcherManager.emit (checked below), to hand its registry an event past any wrapper. */
export const registryEmit = (wm: unknown, event: { type: number; state: number; path: string }): void => {
  (WatcherManager.prototype.emit as (this: unknown, e: unknown) => void).call(wm, event);
};

/** The library's path check (throws an Error on a malformed path). */
export const validatePath = (path: string): void => PathModule.validate(path);

/** What a request queued with the library looks like (connectionManager.queue / packetQueue). */
export interface LibPacket {
  request: { header: { type: number; xid: number; wireType?: number } | null; payload: unknown };
  callback?: (err: unknown, response?: { header: unknown; payload: unknown }) => void;
}

/** A client's connection manager, as the extensions use it. */
export interface LibConnectionManager {
  chrootPath?: string;
  /** Writes the connect request, then queues auth packets and the SetWatches (client-hooks.ts). */
  onSocketConnected(): void;
  queue(request: unknown, callback?: (err: unknown, response?: { header: unknown; payload: unknown }) => void): void;
  packetQueue: { queue: LibPacket[]; shift(): LibPacket | undefined };
  watcherManager: {
    emit(event: { type: number; path: string }): void;
  } & Record<'dataWatchers' | 'childWatchers' | 'existenceWatchers', Record<string, EventEmitter | undefined>>;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** sha256 of each function's source as 1.1.3 ships it, and why we depend on it. */
const EXPECTED: Array<{ name: string; fn: () => unknown; sha256: string; patchedFlag?: symbol }> = [
  // Queues the reconnect auth and SetWatches through this.queue (put first and split per client).
  { name: 'ConnectionManager.onSocketConnected', fn: () => ConnectionManager.prototype.onSocketConnected, sha256: '42fee67e5109675b3cef960c6387a7a1813d93de27555741adce53821241c07d' },
  // Dispatches a reply by its request header's `type`, a notification to watcherManager.emit;
  // reads one reply per call (then calls this.onSocketData for the rest), matching its xid
  // with the head of pendingQueue, and drops the socket on a mismatch.
  { name: 'ConnectionManager.onSocketData', fn: () => ConnectionManager.prototype.onSocketData, sha256: '2887ec95adebb2add77c0569fd8acb44acf8cae679474bb0748c18b1c3d8c4df' },
  // Sends each packet it takes with packetQueue.shift(), serialized by header.serialize.
  { name: 'ConnectionManager.onPacketQueueReadable', fn: () => ConnectionManager.prototype.onPacketQueueReadable, sha256: 'f897ef043afeabb6662f7e94ac0b2616029d57c3a7750f33c79e9c6b7a831428' },
  { name: 'ConnectionManager.queue', fn: () => ConnectionManager.prototype.queue, sha256: '2d10a9d899146031f17b685b4948466d9bc77e31227df337db916bb485a7fd0b' },
  { name: 'WatcherManager.emit', fn: () => WatcherManager.prototype.emit, sha256: '5145d6538fcf1154793e6bd8b2346d5bd4640a6efd8aa98600d039da56fe4257' },
  { name: 'PacketQueue.shift', fn: () => PacketQueue.prototype.shift, sha256: 'f5fc60c2816ec095c558ac2c7c5a981255e7fa2edbfa2fa70e68424787502ea7' },
  // Replaced (wire-patches.ts): taught multiRead's getData/getChildren items.
  {
    name: 'TransactionResponse.deserialize',
    fn: () => jute.TransactionResponse.prototype.deserialize,
    sha256: '1162f5ff6d5d665aa4951d6daf2b2614555b676b9cf503b5fd19a1d8135fd7e3',
    patchedFlag: Symbol.for('drover.zk.multi-read-response'),
  },
  // Wrapped (wire-patches.ts): an error code it does not know is an error, not a throw.
  {
    name: 'Exception.create',
    fn: () => Exception.create,
    sha256: 'bb16bcd0fd698e2f8b4f3e26d448da58bbc1150e19935633e8932d822a3b9eb1',
    patchedFlag: Symbol.for('drover.zk.unknown-error-codes'),
  },
];

export function mismatch(why: string, version?: string): LibraryMismatchError {
  return new LibraryMismatchError(
    `drover needs ${LIBRARY} ${LIBRARY_VERSION} as published (found ${version ?? 'an unknown version'}): ${why}. ` +
      `Its wire extensions (multiRead, tree watches, the SetWatches split) cannot be applied safely.`,
  );
}

/** Throws LibraryMismatchError unless every function we depend on is 1.1.3's (or already ours). */
export function checkLibrary(): void {
  const version = (require(`${LIBRARY}/package.json`) as { version?: string }).version;
  if (version !== LIBRARY_VERSION) throw mismatch('another version', version);
  for (const e of EXPECTED) {
    const fn = e.fn() as (((...a: unknown[]) => unknown) & Record<symbol, unknown>) | undefined;
    if (typeof fn !== 'function') throw mismatch(`${e.name} is missing`, version);
    // Patched by a copy of drover loaded earlier in this process: that copy checked the original.
    if (e.patchedFlag && fn[e.patchedFlag] === true) continue;
    if (sha256(fn.toString()) !== e.sha256) throw mismatch(`${e.name} is not the code drover was written for`, version);
  }
}

checkLibrary();
