// `drover worker --sandbox process`, real processes end to end: a master, a sandboxed worker
// and, for contrast, a plain one, each given a handler busy for twice the session timeout.
// The sandboxed worker keeps its session and finishes the task; the plain one loses its
// session. Stopping the worker leaves no sandbox process behind. Also the usage errors.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { EXIT } from '../cli/exit-codes.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, freshLayout, zkConnect } from './harness/zk.js';

const HANDLERS = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sandbox-handlers.mjs');
const SESSION_MS = 2000;
const pool = new SessionPool();
const procs = new ProcessPool();
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('drover worker --sandbox', () => {
  it('process: a CPU-bound task succeeds without the worker losing its session (a plain worker loses it); stop leaves no sandbox', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(SESSION_MS)];
    procs.spawn('m1', ['master', '--id', 'm1', ...g]);
    const boxed = procs.spawn('boxed', ['worker', '--id', 'boxed', '--concurrency', '1', '--sandbox', 'process', '--handlers', HANDLERS, '--labels', 'box=yes', ...g]);
    const plain = procs.spawn('plain', ['worker', '--id', 'plain', '--concurrency', '1', '--handlers', HANDLERS, '--labels', 'box=no', ...g]);
    const alive1 = await boxed.waitForLine((l) => l.msg === 'worker alive');
    expect(alive1.types).toEqual(expect.arrayContaining(['spin', 'where', 'echo']));
    await plain.waitForLine((l) => l.msg === 'worker alive');
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const spin = { type: 'spin', payload: { ms: 2 * SESSION_MS }, maxAttempts: 1 };
    const { id: boxedTask } = await client.submit({ ...spin, labels: { box: 'yes' } });
    await client.submit({ ...spin, labels: { box: 'no' } });

    const done = await waitFor(async () => {
      const t = await client.get(boxedTask);
      return t && (t.state === 'succeeded' || t.state === 'failed') ? t : null;
    }, { timeoutMs: 12_000, message: 'boxed task finished' });
    expect(done.state).toBe('succeeded');
    const sandboxPid = (done.result as { pid: number }).pid;
    expect(sandboxPid).not.toBe(boxed.pid);
    // The plain worker's event loop was held past its session timeout: the server expired it.
    await plain.waitForLine((l) => l.msg === 'zookeeper session expired', 8000);
    expect(boxed.hasLine((l) => l.msg === 'zookeeper session expired' || l.msg === 'zookeeper session disconnected')).toBe(false);
    // Ran on its first (and only) registration.
    expect(boxed.lines.filter((l) => l.msg === 'worker alive')).toHaveLength(1);
    expect(done.worker).toBe(alive1.member);

    boxed.signal('SIGTERM');
    expect(await boxed.waitExit()).toBe(EXIT.ok);
    expect(alive(sandboxPid)).toBe(false);
  });

  it('usage: --sandbox without --handlers is one line, exit 2; a module that does not load is its one line', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const missing = join(dirname(HANDLERS), 'no-such-handlers.mjs');
    const [r, bad] = await Promise.all([
      procs.run(['worker', '--zk', zkConnect(), '--sandbox', 'thread']),
      procs.run(['worker', '--zk', zkConnect(), '--root', paths.root, '--sandbox', 'thread', '--handlers', missing], 15_000, { DROVER_LOG_LEVEL: 'warn' }),
    ]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('--sandbox needs --handlers FILE')]);
    expect(bad.code).not.toBe(EXIT.ok);
    expect(bad.stderr.trim().split('\n')).toEqual([`drover: handler module not found: ${missing} (from ${JSON.stringify(missing)})`]);
  });
});
