// `drover worker --sandbox process`, real processes end to end: a master, a sandboxed worker
// and, for contrast, a plain one, each given a handler busy for twice the session timeout.
// The sandboxed worker keeps its session and finishes the task; the plain one loses its
// session. A Ctrl-C (SIGINT to the worker and its sandbox alike) drains the running task;
// a kill -9 of a worker takes its spinning sandbox with it. Also the usage errors.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { EXIT } from '../cli/exit-codes.js';
import { isRunning, ProcessPool } from './harness/processes.js';
import { tempDir } from './harness/temp.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, freshLayout, zkConnect } from './harness/zk.js';

const HANDLERS = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sandbox-handlers.mjs');
const SESSION_MS = 2000;
const pool = new SessionPool();
const procs = new ProcessPool();
const tmp = tempDir('drover-sandbox-cli-');
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

/** The pid a `spin` handler wrote before spinning. */
function pidFrom(file: string): Promise<number> {
  return waitFor(() => (existsSync(file) && readFileSync(file, 'utf8') !== '' ? Number(readFileSync(file, 'utf8')) : null), { timeoutMs: 8000, message: `${file} written` });
}

describe('drover worker --sandbox', () => {
  it('process: a CPU-bound task succeeds without the worker losing its session (a plain worker loses it); a Ctrl-C drains the sandboxed task; a kill -9 of a worker takes its sandbox with it', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(SESSION_MS)];
    procs.spawn('m1', ['master', '--id', 'm1', ...g]);
    const boxed = procs.spawn('boxed', ['worker', '--id', 'boxed', '--concurrency', '1', '--sandbox', 'process', '--handlers', HANDLERS, '--labels', 'box=yes', ...g]);
    const plain = procs.spawn('plain', ['worker', '--id', 'plain', '--concurrency', '1', '--handlers', HANDLERS, '--labels', 'box=no', ...g]);
    const doomed = procs.spawn('doomed', ['worker', '--id', 'doomed', '--concurrency', '1', '--sandbox', 'process', '--handlers', HANDLERS, '--labels', 'box=doomed', ...g]);
    const alive1 = await boxed.waitForLine((l) => l.msg === 'worker alive');
    expect(alive1.types).toEqual(expect.arrayContaining(['spin', 'where', 'echo']));
    await plain.waitForLine((l) => l.msg === 'worker alive');
    await doomed.waitForLine((l) => l.msg === 'worker alive');
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
    // kill -9 of a worker whose sandbox spins (its event loop deaf to the IPC channel's
    // close): the sandbox's watchdog ends it all the same.
    const doomedFile = join(tmp, 'doomed.pid');
    await client.submit({ type: 'spin', payload: { ms: 20_000, pidFile: doomedFile }, maxAttempts: 1, labels: { box: 'doomed' } });
    const orphan = await pidFrom(doomedFile);
    doomed.kill9();
    // Its watchdog polls every 500 ms (the spin would last 20 s); a margin for a loaded machine.
    await waitFor(() => !isRunning(orphan), { timeoutMs: 3000, message: 'the killed worker\'s sandbox gone' });
    // The plain worker's event loop was held past its session timeout: the server expired it.
    await plain.waitForLine((l) => l.msg === 'zookeeper session expired', 8000);
    expect(boxed.hasLine((l) => l.msg === 'zookeeper session expired' || l.msg === 'zookeeper session disconnected')).toBe(false);
    // Ran on its first (and only) registration.
    expect(boxed.lines.filter((l) => l.msg === 'worker alive')).toHaveLength(1);
    expect(done.worker).toBe(alive1.member);

    // A Ctrl-C reaches the worker's process group: the sandbox too. The worker drains the
    // running task (the sandbox ignores the signal), then ends the sandbox.
    const drainFile = join(tmp, 'drain.pid');
    const untilFile = join(tmp, 'drain.end');
    const { id: drained } = await client.submit({ type: 'spin', payload: { untilFile, pidFile: drainFile }, maxAttempts: 1, labels: { box: 'yes' } });
    expect(await pidFrom(drainFile)).toBe(sandboxPid);
    process.kill(sandboxPid, 'SIGINT');
    boxed.signal('SIGINT');
    await boxed.waitForLine((l) => l.msg === 'worker draining');
    writeFileSync(untilFile, ''); // the handler ends now, after the signals
    expect(await boxed.waitExit()).toBe(EXIT.ok);
    expect(await client.get(drained)).toMatchObject({ state: 'succeeded', attempt: 1 });
    expect(isRunning(sandboxPid)).toBe(false);
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
