// Sandboxed handlers (worker/sandbox/), against a real ZooKeeper: a CPU-bound handler in a
// worker thread or a child process leaves the worker's event loop free (its session lives);
// a sandbox that exits, runs out of memory or ignores its abort fails that attempt alone and
// is replaced, and the worker goes on.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { cancelById } from '../client/cancel.js';
import { PayloadTooLargeError } from '../shared/protocol/record-errors.js';
import { createMetricsRegistry } from '../shared/metrics/registry.js';
import type { SessionState } from '../shared/zk/session.js';
import type { TaskContext } from '../worker/handlers.js';
import { sandboxedHandlers } from '../worker/sandbox/pool.js';
import { WorkerOptionError, Worker } from '../worker/worker.js';
import { submitAndAssignTo, useWorkerFixture } from './harness/worker-fixture.js';
import { waitState } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';
import { parseMetrics } from './harness/metrics-scrape.js';
import { zkConnect } from './harness/zk.js';
import { isRunning } from './harness/processes.js';
import { tempDir } from './harness/temp.js';

const MODULE = join(import.meta.dirname, 'fixtures', 'sandbox-handlers.mjs');
const fx = useWorkerFixture({ gracePeriodMs: 1000 });
const tmp = tempDir('drover-sandbox-');

const pidOf = (r: { result?: unknown }) => (r.result as { pid: number }).pid;

async function runOne(member: string, type: string, payload: unknown = null, extra: { timeoutMs?: number } = {}) {
  const [t] = await submitAndAssignTo(fx.session, fx.paths, member, [{ type, payload, maxAttempts: 1, ...extra }]);
  return t!.record.id;
}

describe('sandboxed handlers', () => {
  it('a handler busy for twice the session timeout, in a thread and in a process: the worker keeps its session and the task succeeds', async () => {
    const SESSION_MS = 1000;
    const sides = await Promise.all(
      (['thread', 'process'] as const).map(async (kind) => {
        const session = await fx.openSession({ sessionTimeoutMs: SESSION_MS });
        const states: SessionState[] = [];
        session.on('state', (s: SessionState) => states.push(s));
        const w = await fx.startWorker({ id: `spin-${kind}`, session, connectString: undefined, concurrency: 1, sandbox: { kind, module: MODULE } });
        const member = w.memberName!;
        // A watch from the observer's session: it fires if the member node ever goes.
        const memberEvents: string[] = [];
        expect(await fx.session.exists(fx.paths.member(member), (e) => memberEvents.push(e.type))).not.toBeNull();
        return { kind, session, states, w, member, memberEvents, sessionId: session.sessionId };
      }),
    );
    expect(sides[0]!.w.types).toEqual(['big', 'chatty', 'echo', 'exit', 'fail', 'flood', 'hog', 'notAgain', 'polite', 'sleep', 'spin', 'stubborn', 'submitsTooMuch', 'where']);
    const ids = await Promise.all(sides.map((s) => runOne(s.member, 'spin', { ms: 2 * SESSION_MS })));
    const records = await Promise.all(ids.map((id) => waitState(fx.session, fx.paths, id, 'succeeded', 15_000)));
    for (const [i, s] of sides.entries()) {
      const result = records[i]!.result as { pid: number; threadId: number };
      // It ran outside the test's (and the worker's) thread.
      if (s.kind === 'thread') {
        expect(result.pid).toBe(process.pid);
        expect(result.threadId).not.toBe(threadId);
      } else expect(result.pid).not.toBe(process.pid);
      expect(s.session.sessionId).toBe(s.sessionId);
      expect(s.w.memberName).toBe(s.member);
      expect(s.states).not.toContain('expired');
      expect(s.states).not.toContain('disconnected');
      expect(s.memberEvents).toEqual([]);
      expect(await fx.session.exists(fx.paths.member(s.member))).not.toBeNull();
    }
  });

  it('process.exit (a child of the handler holding stderr) or out of memory in a process fails its attempt at once, and the next task runs on the same worker in a fresh sandbox', async () => {
    const w = await fx.startWorker({ id: 'exits', concurrency: 1, sandbox: { kind: 'process', module: MODULE, maxOldGenerationMb: 32 } });
    const first = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where'), 'succeeded');
    // Its exit ends the attempt at once, though a child of the handler (a 6 s sleep) still holds the stderr pipe.
    const sleeper = join(tmp, 'sleeper.pid');
    const t0 = Date.now();
    const crashed = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'exit', { code: 3, sleeper }), 'failed', 4000).finally(() => {
      // Guarded: a handler that never wrote it must not hide the real failure.
      if (existsSync(sleeper)) {
        try {
          process.kill(Number(readFileSync(sleeper, 'utf8')), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(crashed.error).toMatchObject({ kind: 'handler', retryable: true, message: 'sandbox exited with code 3' });
    // V8's out-of-memory line is read from the child's stderr before its end is reported.
    const hog = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'hog'), 'failed', 15_000);
    expect(hog.error).toMatchObject({ kind: 'handler', retryable: true, message: 'sandbox ran out of memory (--max-old-space-size 32)' });
    const next = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where'), 'succeeded');
    expect((next.result as { pid: number }).pid).not.toBe((first.result as { pid: number }).pid);
    // A handler's own non-retryable error stays one; a sandbox reused between tasks keeps its pid.
    const refused = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'notAgain'), 'failed');
    expect(refused.error).toMatchObject({ kind: 'handler', retryable: false, message: 'not worth another attempt' });
    const again = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where'), 'succeeded');
    expect(again.result).toEqual(next.result);
    expect(w.state).toBe('running');
  });

  it('a thread out of memory, or exiting, fails its attempt and the worker goes on; log lines and parents() cross; metrics count the ends', async () => {
    const metrics = createMetricsRegistry();
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    // selfTooLarge runs in the worker's own thread (not in the module): its own submit's refusal.
    const selfTooLarge = () => {
      throw new PayloadTooLargeError('payload', 9, 8);
    };
    const w = await fx.startWorker({ id: 'hogs', concurrency: 1, log, metrics, handlers: { selfTooLarge }, sandbox: { kind: 'thread', module: MODULE, maxOldGenerationMb: 16 } });
    const hog = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'hog'), 'failed', 15_000);
    expect(hog.error).toMatchObject({ kind: 'handler', retryable: true, message: 'sandbox ran out of memory (maxOldGenerationSizeMb 16)' });
    const exited = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'exit', { code: 3 }), 'failed');
    expect(exited.error).toMatchObject({ kind: 'handler', retryable: true, message: 'sandbox exited with code 3' });
    // Over the worker's 64 KiB result limit and not cloneable (a function): only the sandbox's
    // own check, before it crosses, says too-large (else "cannot leave the sandbox", progress dropped).
    const big = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'big', { bytes: 100_000 }), 'failed');
    expect(big.error).toEqual({ kind: 'too-large', retryable: false, message: `result of task ${big.id} is 100008 bytes, over the 65536-byte limit` });
    expect(lines.find((l) => l.msg === 'progress value too large; not written')).toMatchObject({ taskId: big.id, bytes: 100_008, limit: 65_536, level: 40 });
    // A handler's own PayloadTooLargeError (a submit's payload), in the sandbox or in-process, is its failure.
    for (const type of ['submitsTooMuch', 'selfTooLarge']) {
      const own = await waitState(fx.session, fx.paths, await runOne(w.memberName!, type), 'failed');
      expect(own.error).toMatchObject({ kind: 'handler', message: expect.stringMatching(/^payload of task is 9 bytes/) });
    }
    const chatty = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'chatty', { x: 1 }), 'succeeded');
    expect(chatty.result).toEqual({ parents: [], payload: { x: 1 } });
    expect(lines.find((l) => l.msg === 'from the sandbox')).toMatchObject({ n: 1, taskId: chatty.id, level: 30 });
    expect(w.state).toBe('running');
    const m = parseMetrics(await metrics.metrics());
    expect(m.by('drover_worker_sandbox_ends_total', ['kind', 'reason'])).toEqual({ 'thread/out-of-memory': 1, 'thread/exit': 1 });
    expect(m.sum('drover_worker_sandbox_starts_total')).toBe(3);
  });

  it('a cancel reaches the sandbox with its kind: a handler ending on it keeps its sandbox, one ignoring it is killed after the grace; two sandboxes run at once', async () => {
    const GRACE_MS = 1000;
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const w = await fx.startWorker({ id: 'cancels', concurrency: 2, log, sandbox: { kind: 'process', module: MODULE, graceMs: GRACE_MS } });
    const started = new Set<string>();
    w.on('started', (e) => started.add(e.taskId));
    const first = pidOf(await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where'), 'succeeded'));
    const stubborn = await runOne(w.memberName!, 'stubborn');
    await waitFor(() => started.has(stubborn), { message: 'stubborn started' });
    // The stubborn one holds the first sandbox: this one runs meanwhile in a second.
    const second = pidOf(await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where'), 'succeeded'));
    expect(second).not.toBe(first);
    const polite = await runOne(w.memberName!, 'polite');
    await waitFor(() => started.has(polite), { message: 'polite started' });
    const t0 = Date.now();
    await Promise.all([cancelById({ session: fx.session, paths: fx.paths }, stubborn, 'enough'), cancelById({ session: fx.session, paths: fx.paths }, polite, 'enough')]);
    await waitFor(() => lines.find((l) => l.msg === 'aborted in the sandbox'), { message: 'the polite handler saw its abort' });
    expect(lines.find((l) => l.msg === 'aborted in the sandbox')).toMatchObject({ taskId: polite, kind: 'withdrawn', name: 'AttemptAbortedError' });
    // The stubborn one's sandbox is SIGKILLed its grace after the abort, not before.
    await waitFor(() => !isRunning(first), { timeoutMs: GRACE_MS + 3000, message: 'stubborn sandbox killed' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(GRACE_MS);
    // The polite one's sandbox was not killed: the next task runs in it.
    expect(pidOf(await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where'), 'succeeded'))).toBe(second);
  });

  it('a replacement sandbox whose module load hangs is killed by the attempt\'s abort (its timeout): the one slot is free for the next task', async () => {
    const w = await fx.startWorker({ id: 'hangs', concurrency: 1, sandbox: { kind: 'thread', module: MODULE } });
    await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'exit', { code: 3 }), 'failed');
    process.env.DROVER_TEST_SANDBOX_HANG_LOAD = '1';
    try {
      const hung = await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where', null, { timeoutMs: 500 }), 'failed');
      expect(hung.error).toMatchObject({ retryable: true, message: 'timed out after 500 ms' });
    } finally {
      delete process.env.DROVER_TEST_SANDBOX_HANG_LOAD;
    }
    await waitState(fx.session, fx.paths, await runOne(w.memberName!, 'where'), 'succeeded', 4000);
  });

  it('progress in a tight loop crosses coalesced: the first value, the latest of each window, the last before the result', async () => {
    const silent = pino({ level: 'silent' });
    const { handlers, pool } = await sandboxedHandlers({}, { kind: 'thread', module: MODULE, graceMs: 1000 }, 1, silent);
    try {
      const seen: unknown[] = [];
      const ctx: TaskContext = { taskId: 't1', type: 'flood', attempt: 1, maxAttempts: 1, signal: new AbortController().signal, log: silent, progress: (v) => void seen.push(v), parents: () => Promise.resolve([]) };
      expect(await handlers.flood!({ n: 100_000, pauseMs: 300 }, ctx)).toBe('flooded');
      expect(seen).toEqual([0, 99_999, 199_999]);
    } finally {
      await pool.close();
    }
  });

  it('options: a bad sandbox is refused at construction; a module that does not load fails start() with its line', async () => {
    expect(() => new Worker({ connectString: zkConnect(), id: 'x', sandbox: { kind: 'vm' as 'thread', module: MODULE } })).toThrow(WorkerOptionError);
    expect(() => new Worker({ connectString: zkConnect(), id: 'x', sandbox: { kind: 'process', module: MODULE, resourceLimits: {} } })).toThrow(/applies to kind 'thread' only/);
    const missing = join(import.meta.dirname, 'fixtures', 'no-such-handlers.mjs');
    await expect(fx.startWorker({ id: 'bad', sandbox: { kind: 'thread', module: missing } })).rejects.toThrow(`handler module not found: ${missing}`);
    // A first sandbox whose module load hangs fails the start (bounded; 30 s by default), naming the module.
    process.env.DROVER_TEST_SANDBOX_HANG_LOAD = '1';
    try {
      await expect(sandboxedHandlers({}, { kind: 'thread', module: MODULE, graceMs: 1000, loadTimeoutMs: 300 }, 1, pino({ level: 'silent' }))).rejects.toThrow(`handlers module ${MODULE} did not load within 300 ms`);
    } finally {
      delete process.env.DROVER_TEST_SANDBOX_HANG_LOAD;
    }
  });
});
