// Helpers the session offers on top of its primitives.
import { ConnectionLossError, SessionExpiredError, ZkError } from './errors.js';

/**
 * Retries `fn` across connection loss and request timeouts until `deadlineMs`; expiry and
 * close are not retried. Never carries a call into a new session (`generation()` changed):
 * an ephemeral created there would be owned by a session its caller did not mean, and
 * watches it arms would be ignored.
 */
export async function retrying<T>(fn: () => Promise<T>, deadlineMs: number, generation: () => number): Promise<T> {
  const until = Date.now() + deadlineMs;
  const started = generation();
  let delay = 50;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConnectionLossError) || Date.now() + delay > until) throw err;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
      if (generation() !== started) {
        throw new SessionExpiredError('SESSION_EXPIRED', `ZooKeeper session replaced while retrying: ${(err as Error).message}`);
      }
    }
  }
}

/** Creates a persistent path and its missing parents with `create`; existing nodes are fine. */
export async function mkdirp(create: (path: string, data: Buffer) => Promise<unknown>, path: string, data: Buffer): Promise<void> {
  const parts = path.split('/').filter(Boolean);
  let cur = '';
  for (let i = 0; i < parts.length; i++) {
    cur += '/' + parts[i];
    try {
      await create(cur, i === parts.length - 1 ? data : Buffer.alloc(0));
    } catch (err) {
      if (!(err instanceof ZkError && err.code === 'NODE_EXISTS')) throw err;
    }
  }
}
