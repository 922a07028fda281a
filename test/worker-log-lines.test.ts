// A worker's log a person can live with (issue 13 item 6): one line per finished attempt, info
// when it went well and warn when it failed, with its duration, the error's message and stack,
// and whether it will retry; the debug lines show the batches (intake, start, finish). And
// the library's events `completed` and `failed`, after the outcome was committed.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { assignOps, queueEntryOf } from '../shared/protocol/task-ops.js';
import { MAX_STACK_CHARS } from '../shared/protocol/task-record.js';
import type { Worker, WorkerCompletedEvent, WorkerFailedEvent, WorkerOptions } from '../worker/worker.js';
import { readRecord } from './harness/worker-fixture.js';
import { assignBurst, useWorkerSuite } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';
import { ProcessPool } from './harness/processes.js';
import { TEST_SESSION_MS, zkConnect } from './harness/zk.js';

interface Line {
  level: number;
  msg: string;
  id?: string;
  taskId?: string;
  [k: string]: unknown;
}
const INFO = 30;
const WARN = 40;

const { fx, startWorker: start, submitAndAssign, waitState } = useWorkerSuite({ gracePeriodMs: 1000 });
let lines: Line[];
beforeEach(() => {
  lines = [];
});

function startWorker(level: 'info' | 'debug', opts: Partial<WorkerOptions> = {}): Promise<Worker> {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Line);
      cb();
    },
  });
  return start({ log: pino({ level }, sink), ...opts });
}

/** Lines at info or above about task `id`. */
const about = (id: string) => lines.filter((l) => l.level >= INFO && (l.taskId === id || l.id === id));

describe('worker log lines', () => {
  it('a success is one info line with its duration; the start line is logged once', async () => {
    const w = await startWorker('info', { handlers: { nap: async (p: { ms: number }) => (await new Promise((r) => setTimeout(r, p.ms)), 'rested') } });
    const id = await submitAndAssign(w, { type: 'nap', payload: { ms: 40 } });
    await waitState(id, 'succeeded');
    await waitFor(() => w.inFlight === 0);
    const mine = about(id);
    expect(mine.map((l) => l.level)).toEqual([INFO]);
    const l = mine[0]!;
    expect(l.msg).toMatch(new RegExp(`^task ${id} nap succeeded in \\d+ ms \\(attempt 1\\)$`));
    expect(l).toMatchObject({ id, type: 'nap', attempt: 1, outcome: 'succeeded', committed: 'succeeded' });
    expect(l.durationMs).toBeGreaterThanOrEqual(35);
    expect(l.durationMs).toBeLessThan(5000);
    // Started once, and said so once (was: 'worker running' and 'taking tasks of types ...').
    expect(lines.filter((x) => x.level >= INFO && /alive|running|taking tasks/.test(x.msg)).map((x) => x.msg)).toEqual(['worker alive']);
  });

  it('a failure is a warn line with the message and the stack, saying it will retry, then that it will not', async () => {
    const w = await startWorker('info', {
      handlers: {
        broken: () => {
          throw new RangeError('the disk is full');
        },
      },
    });
    const id = await submitAndAssign(w, { type: 'broken', maxAttempts: 2, backoff: { initialMs: 10, factor: 1, maxMs: 10 } });
    const queued = await waitState(id, 'queued');
    // The stack reaches the record, cut to its bound.
    expect(queued.error).toMatchObject({ kind: 'handler', retryable: true, message: 'the disk is full' });
    expect(queued.error?.stack).toMatch(/^RangeError: the disk is full\n\s+at broken /);
    await waitFor(() => about(id).length === 1, { message: 'first attempt logged' });
    const [first] = about(id);
    expect(first).toMatchObject({ level: WARN, id, type: 'broken', attempt: 1, outcome: 'retried', willRetry: true, committed: 'queued' });
    expect(first!.msg).toMatch(new RegExp(`^task ${id} broken failed in \\d+ ms \\(attempt 1\\): the disk is full; will retry$`));
    expect(first!.err).toMatchObject({ message: 'the disk is full', kind: 'handler', stack: queued.error!.stack });
    expect(typeof first!.durationMs).toBe('number');

    // The second attempt fails for good (the test plays the leader: assigns attempt 2).
    const cur = await readRecord(fx.session, fx.paths, id);
    await fx.session.multi(assignOps(fx.paths, cur, queueEntryOf(fx.paths, cur.record), w.memberName!, 1, Date.now(), 5000).ops);
    await waitState(id, 'failed');
    await waitFor(() => about(id).length === 2, { message: 'second attempt logged' });
    const second = about(id)[1]!;
    expect(second).toMatchObject({ level: WARN, attempt: 2, outcome: 'failed', willRetry: false, committed: 'failed' });
    expect(second.msg).toMatch(/: the disk is full; will not retry$/);
    expect((second.err as { stack: string }).stack).toMatch(/^RangeError: the disk is full/);
  });

  it('a stack longer than MAX_STACK_CHARS is cut in the record', async () => {
    const w = await startWorker('info', {
      handlers: {
        deep: () => {
          const e = new Error('deep');
          e.stack = `Error: deep\n${'    at frame (x.js:1:1)\n'.repeat(500)}`;
          throw e;
        },
      },
    });
    const id = await submitAndAssign(w, { type: 'deep', maxAttempts: 1 });
    const rec = await waitState(id, 'failed');
    expect(rec.error!.stack!.length).toBeLessThanOrEqual(MAX_STACK_CHARS);
    expect(rec.error!.stack).toMatch(/^Error: deep\n/);
    expect(rec.error!.stack).toMatch(/characters, cut\)$/);
  });

  it('at debug the batches show: intake, start batch and finish batch with their sizes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = await startWorker('debug', { concurrency: 8, handlers: { gated: async (p: unknown) => (await gate, p) } });
    const recs = await assignBurst(fx.session, fx.paths, w.memberName!, Array.from({ length: 6 }, (_, i) => ({ type: 'gated', payload: i })));
    await Promise.all(recs.map((r) => waitState(r.record.id, 'running')));
    release();
    await Promise.all(recs.map((r) => waitState(r.record.id, 'succeeded')));
    await waitFor(() => w.inFlight === 0);
    const debug = lines.filter((l) => l.level === 20);
    const sizes = (re: RegExp) => debug.filter((l) => re.test(l.msg)).map((l) => l.count ?? l.read);
    // All six arrived in one assignment multi: most likely one intake and one start batch;
    // a listing may see them in more pieces, never more than six in all.
    const intake = sizes(/^intake: \d+ new assignments? read, \d+ to start$/) as number[];
    const started = sizes(/^start batch: \d+ marked running in one multi$/) as number[];
    const finished = sizes(/^finish batch: \d+ in one multi \(committed\)$/) as number[];
    expect(intake.reduce((a, b) => a + b, 0)).toBe(6);
    expect(finished.reduce((a, b) => a + b, 0)).toBe(6);
    // A start batch is a multi of two or more (a lone start goes alone, unlogged).
    expect(started.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(6);
    expect(started.length).toBeGreaterThan(0);
    // Released together: the finishes share multis.
    expect(finished.length).toBeLessThan(6);
    // Each task still has exactly one info line.
    for (const r of recs) expect(about(r.record.id).map((l) => l.outcome)).toEqual(['succeeded']);
  });

  it('completed and failed events, after the commit, carry the result and the error with its stack', async () => {
    const w = await startWorker('info', {
      handlers: {
        double: (p: number) => p * 2,
        bad: () => {
          throw new Error('bad input');
        },
      },
    });
    const completed: WorkerCompletedEvent[] = [];
    const failed: WorkerFailedEvent[] = [];
    const stateAtEvent: string[] = [];
    w.on('completed', (e) => {
      completed.push(e);
      void fx.session.getData(fx.paths.task(e.id)).then((r) => stateAtEvent.push(JSON.parse(String(r.data)).state));
    });
    w.on('failed', (e) => failed.push(e));
    const ok = await submitAndAssign(w, { type: 'double', payload: 21 });
    const ko = await submitAndAssign(w, { type: 'bad', maxAttempts: 3 });
    await waitFor(() => completed.length === 1 && failed.length === 1 && stateAtEvent.length === 1, { message: 'both events' });
    expect(completed[0]).toMatchObject({ id: ok, type: 'double', attempt: 1, result: 42 });
    expect(completed[0]!.durationMs).toBeGreaterThanOrEqual(0);
    // Emitted after the commit: the record already says so.
    expect(stateAtEvent).toEqual(['succeeded']);
    expect(failed[0]).toMatchObject({ id: ko, type: 'bad', attempt: 1, willRetry: true, error: { kind: 'handler', message: 'bad input', retryable: true } });
    expect(failed[0]!.error.stack).toMatch(/^Error: bad input\n\s+at bad /);
  });
});

const procs = new ProcessPool();
afterAll(() => procs.killAll());

describe('pretty log format', () => {
  it('a real `drover worker --log-format pretty` prints a failure (and every other event, at debug) as one line; the stack as its first frame', async () => {
    const g = ['--zk', zkConnect(), '--root', fx.paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const m = procs.spawn('pm', ['master', '--id', 'pm', ...g]);
    await m.waitForLine((l) => l.msg === 'elected leader');
    const w = procs.spawn('pw', ['worker', '--id', 'pw', '--log-format', 'pretty', ...g]);
    await waitFor(() => w.text.some((t) => t.includes('worker alive')), { message: 'pretty worker alive' });
    const client = await DroverClient.connect({ session: fx.session, root: fx.paths.root });
    try {
      const [t] = await client.submitMany([{ type: 'fail', payload: { retryable: false, message: 'the disk is full' }, maxAttempts: 1 }]);
      expect((await client.wait(t!.id, { timeoutMs: 15_000 })).state).toBe('failed');
      const failure = await waitFor(() => w.text.find((x) => x.includes(`task ${t!.id} fail failed`)), { message: 'the failure line' });
      expect(failure).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: task \S+ fail failed in \d+ ms \(attempt 1\): the disk is full; will not retry \{/);
      expect(failure).toMatch(/"err":"the disk is full \[handler\] at fail \([^"]+\)"\}$/);
      w.signal('SIGTERM');
      expect(await w.waitExit()).toBe(0);
      // Every line it printed is an event of its own: a time and a level, no continuation lines.
      expect(w.lines).toEqual([]);
      const strays = w.text.filter((x) => !/^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): /.test(x));
      expect(strays).toEqual([]);
      expect(w.text.length).toBeGreaterThan(3);
    } finally {
      await client.close();
    }
  }, 30_000);
});
