// Per-test ZooKeeper helpers: a fresh root for each test, sessions that are closed after it,
// and waits for session-state changes. The server itself comes from global-setup.
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { ZkSession, type SessionState, type ZkSessionOptions } from '../../shared/zk/session.js';
import { ensureLayout } from '../../shared/protocol/layout.js';
import type { Paths } from '../../shared/protocol/paths.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { waitFor } from './wait-for.js';

/** Session timeout the tests use: fast expiry (the suite's server has tickTime 200 ms). */
export const TEST_SESSION_MS = 2000;
/** Shards per test root: small, so each test's layout is quick to create. */
export const TEST_SHARDS = 8;

export function zkConnect(): string {
  return inject('zkConnect');
}

export function uniqueRoot(prefix = 't'): string {
  return `/${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export const testLog: Logger = createLogger({ level: process.env.DROVER_TEST_LOG ?? 'silent', format: 'json' });

/** Tracks every session a test opens so `closeAll()` can close them. */
export class SessionPool {
  private readonly sessions: ZkSession[] = [];

  async open(opts: Partial<ZkSessionOptions> = {}): Promise<ZkSession> {
    const s = await ZkSession.open({
      connectString: zkConnect(),
      sessionTimeoutMs: TEST_SESSION_MS,
      log: testLog,
      ...opts,
    });
    this.sessions.push(s);
    return s;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.sessions.splice(0).map((s) => s.close()));
  }
}

export async function freshLayout(session: ZkSession, root = uniqueRoot()): Promise<Paths> {
  return ensureLayout(session, root, TEST_SHARDS);
}

export async function waitForState(session: ZkSession, state: SessionState, timeoutMs = 15_000): Promise<void> {
  await waitFor(() => session.state === state, { timeoutMs, intervalMs: 20, message: `session state ${state}` });
}
