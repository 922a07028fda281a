// The session's states, options and events (session.ts implements them).
//
// States (session.ts is the only module that reads the library's states):
// - connecting:   first connect in progress.
// - connected:    requests flow.
// - disconnected: the session may still live on the server; writes will fail or wait.
//                 Owners pause (a leader makes no new decisions; its fence keeps it safe).
// - expired:      the session and its ephemerals are gone. Owners drop what the session
//                 guarded (leadership, running assignments) and wait for `session`.
//                 Also entered when disconnected for a whole session timeout: by then the
//                 server has expired us or will, and acting as if it had is the safe side.
// - closed:       close() was called; every call fails with SessionClosedError.
import type { Registry } from '../metrics/registry.js';
import type { Logger } from '../log.js';

export type SessionState = 'connecting' | 'connected' | 'disconnected' | 'expired' | 'closed';

/** The session timeout when none is given: the failure detector's delay (README, Heartbeats). */
export const DEFAULT_SESSION_TIMEOUT_MS = 6000;

/** One identity the session adds to its connection (ZooKeeper's addAuth), e.g. {scheme: 'digest', credentials: 'user:password'}. */
export interface ZkAuth {
  scheme: string;
  credentials: string;
}

export interface ZkSessionOptions {
  /** Identities sent at every connect (digest user:password); none: an anonymous session. */
  auth?: readonly ZkAuth[];
  /** Where the session's drover_zk_* metrics go (reconnects, expiries, request latency); none when absent. */
  metrics?: Registry;
  /** host:port[,host:port...][/chroot]; a malformed one is an InvalidConnectStringError. */
  connectString: string;
  /** Requested session timeout; the server clamps it to [2, 20] × tickTime. Default 6000 (DEFAULT_SESSION_TIMEOUT_MS). */
  sessionTimeoutMs?: number;
  /**
   * Deadline of one request. Default: the session timeout the server granted (which may be
   * longer than the one asked for), so a request outlives a silent connection as long as the
   * session may: until the watchdog gives the session up.
   */
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

