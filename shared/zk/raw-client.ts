// The client library's object as this package uses it: the few internals it reads or guards
// (the socket, the data handler, the partial-packet buffer) typed in one place.
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import zookeeper from 'node-zookeeper-client';
import type { Logger } from '../log.js';
import { answerUnimplemented, countPackets, primeFirst, splitSetWatches } from './client-hooks.js';
import { countRequest } from './counters.js';

export type RawClient = zookeeper.Client & {
  connectionManager: {
    socket?: Socket;
    onSocketData: (buf: Buffer) => void;
    onSocketConnected: () => void;
    /** Bytes of an incomplete packet, kept by the library across reconnects. */
    pendingBuffer: Buffer | null;
    state: number;
    watcherManager: Record<'dataWatchers' | 'childWatchers' | 'existenceWatchers', Record<string, EventEmitter | undefined>>;
  };
  getState(): { name: string; code: number };
};

export interface RawClientOptions {
  sessionTimeoutMs: number;
  /** To reattach to an existing session (the reaper). */
  sessionId?: Buffer;
  sessionPassword?: Buffer;
}

/** The library's CONNECTING state: TCP connect or handshake in progress. */
const LIB_CONNECTING = 1;

/**
 * A library client that never retries on its own beyond reconnecting (we own every deadline),
 * whose requests are counted (counters.ts) and whose reconnect auth and SetWatches go first,
 * split into requests of at most 128 KiB (client-hooks.ts).
 */
export function createRawClient(connectString: string, opts: RawClientOptions): RawClient {
  const client = zookeeper.createClient(connectString, {
    sessionTimeout: opts.sessionTimeoutMs,
    spinDelay: 100,
    retries: 0,
    ...(opts.sessionId ? { sessionId: opts.sessionId, sessionPassword: opts.sessionPassword } : {}),
  } as zookeeper.Option) as RawClient;
  guardHandshake(client, Math.min(2000, Math.floor((opts.sessionTimeoutMs * 2) / 3)));
  primeFirst(client);
  countPackets(client);
  splitSetWatches(client);
  answerUnimplemented(client);
  return client;
}

/**
 * A connect reply must come within `ms` of the TCP connect, or the socket is dropped (the
 * library then tries again, or the next server). A ZooKeeper that is starting up can accept
 * a connection and never answer it, and the library has no deadline there: it waited for
 * ever, and a reaper caught that way during a server restart never closed its session.
 */
function guardHandshake(client: RawClient, ms: number): void {
  const cm = client.connectionManager;
  const onConnected = cm.onSocketConnected;
  // The library binds this handler at each connect(), so the override applies to every socket.
  cm.onSocketConnected = function (this: unknown) {
    countRequest('connect');
    onConnected.call(cm);
    const socket = cm.socket;
    if (!socket) return;
    const timer = setTimeout(() => {
      if (cm.socket === socket && cm.state === LIB_CONNECTING) socket.destroy();
    }, ms);
    timer.unref();
    const clear = () => clearTimeout(timer);
    socket.once('data', clear);
    socket.once('close', clear);
  };
}

/** Drops the current socket: the library fails what is in flight and reconnects. */
export function dropSocket(client: RawClient): void {
  client.connectionManager.socket?.destroy();
}

/**
 * Wraps the library's socket data handler:
 * - calls `onHeard` for every chunk heard from the server (the watchdog's evidence that it
 *   is alive);
 * - drops a partial packet left from an earlier socket (the library keeps it across
 *   reconnects and would read the new connection's bytes as its continuation);
 * - catches what the library throws from that handler on input it cannot parse (an unknown
 *   error code or event type, or a connect reply read after close() while connecting: seen
 *   in a chaos run as "Unknown code: -1965228031"). Uncaught, that kills the process; here
 *   it drops the connection, as a lost connection would.
 */
export function guardSocketData(client: RawClient, log: Logger, onHeard?: () => void): void {
  const cm = client.connectionManager;
  const onData = cm.onSocketData;
  let socket: unknown;
  cm.onSocketData = (buf: Buffer) => {
    onHeard?.();
    if (cm.socket !== socket) {
      socket = cm.socket;
      cm.pendingBuffer = null;
    }
    try {
      onData.call(cm, buf);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'zookeeper client could not read a reply; dropping the connection');
      cm.pendingBuffer = null;
      cm.socket?.destroy();
    }
  };
}

/**
 * Takes `listener` out of the library's client-side registry of `kind` watches on `path`: it
 * is not called, and not re-armed by the library after a reconnect (SetWatches sends only
 * paths with listeners). A watch the server already holds still fires once, into nothing.
 */
export function forgetWatcher(client: RawClient, kind: 'data' | 'child' | 'existence', path: string, listener: (event: zookeeper.Event) => void): void {
  const registry = client.connectionManager.watcherManager?.[`${kind}Watchers`];
  const emitter = registry?.[path];
  if (!emitter) return;
  emitter.removeListener('notification', listener);
  if (emitter.listenerCount('notification') === 0) delete registry[path];
}
