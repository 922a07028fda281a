// Connecting and closing one library client, for the session (session.ts): the first
// session's connect with its deadline, the retry loop that opens a new session after an
// expiry, a close that waits (briefly) for the server's acknowledgement, and the wait for a
// state. The session owns the state; these own the mechanics.
import type { Logger } from '../log.js';
import { ConnectionLossError, SessionClosedError } from './errors.js';
import { createRawClient, dropSocket, guardSocketData, type RawClient } from './raw-client.js';
import type { ZkAuth } from './session-types.js';

export interface ConnectOptions {
  connectString: string;
  sessionTimeoutMs: number;
  /**
   * Identities (addAuth). Given to the client before it connects: the library then sends them
   * at each TCP connect, and client-hooks.ts primeFirst puts them ahead of every request that
   * waited in the queue, so no request of ours runs unauthenticated after a reconnect.
   */
  auth?: readonly ZkAuth[];
  /** How long to wait for the session (the handshake's reply). */
  timeoutMs: number;
  log: Logger;
  /** The client was made (before it connects): the session makes it current. */
  created(client: RawClient): void;
  /** A byte was heard on `client`'s socket. */
  heard(client: RawClient): void;
}

/**
 * Creates a library client and resolves with it once it holds a session; rejects with
 * ConnectionLossError after `timeoutMs` (the client closed, its socket dropped).
 */
export function connectClient(o: ConnectOptions): Promise<RawClient> {
  const client = createRawClient(o.connectString, { sessionTimeoutMs: o.sessionTimeoutMs });
  for (const a of o.auth ?? []) client.addAuthInfo(a.scheme, Buffer.from(a.credentials, 'utf8'));
  o.created(client);
  guardSocketData(client, o.log, () => o.heard(client));
  return new Promise<RawClient>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      // Never connected: no session to close. Drop the socket too, so that no reply to
      // its connect request is read by a library that now thinks it is closing.
      client.close();
      dropSocket(client);
      reject(
        new ConnectionLossError('CONNECTION_LOSS', `cannot reach ZooKeeper at ${o.connectString} within ${o.timeoutMs} ms`, {
          op: 'connect',
        }),
      );
    }, o.timeoutMs);
    const onConnected = () => {
      cleanup();
      resolve(client);
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
 * Calls `attempt` until it resolves true (a new session is up) or `stillWanted` turns false
 * (closed meanwhile). Each try waits up to a session timeout for a server itself; the pause
 * between tries is short (work resumes at most ~1 s after ZooKeeper does) and jittered so
 * many clients do not come back in step.
 */
export async function retryUntilConnected(attempt: () => Promise<void>, stillWanted: () => boolean, log: Logger): Promise<void> {
  let delay = 100;
  while (stillWanted()) {
    try {
      await attempt();
      return;
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot open a new zookeeper session yet; retrying');
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random() / 2)));
      delay = Math.min(delay * 2, 1000);
    }
  }
}

/**
 * Closes `client`. When it was connected, waits (up to 1 s) for the server to acknowledge the
 * close: that is what deletes the session's ephemerals now rather than a session timeout later.
 */
export async function closeClient(client: RawClient, wasConnected: boolean): Promise<void> {
  if (!wasConnected) {
    client.close();
    return;
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 1000);
    client.once('disconnected', () => {
      clearTimeout(timer);
      resolve();
    });
    client.close();
  });
}

interface StateEmitter<S extends string> {
  on(event: 'state', listener: (state: S) => void): unknown;
  off(event: 'state', listener: (state: S) => void): unknown;
}

/** Resolves once `emitter` reports 'connected'; rejects after timeoutMs or on 'closed'. */
export function untilConnected<S extends string>(emitter: StateEmitter<S>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off('state', onState);
      reject(new ConnectionLossError('CONNECTION_LOSS', `not connected to ZooKeeper within ${timeoutMs} ms`));
    }, timeoutMs);
    const onState = (s: S) => {
      if (s !== 'connected' && s !== 'closed') return;
      clearTimeout(timer);
      emitter.off('state', onState);
      if (s === 'closed') reject(new SessionClosedError('SESSION_CLOSED', 'session closed'));
      else resolve();
    };
    emitter.on('state', onState);
  });
}
