// One finished attempt is reported once: one log line, one count, one `ended` event. A user's
// listener that throws is logged and changes nothing else; a commit refused again and again
// is no end (the later run reports); a stop while a commit is unconfirmed is one warning.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '../shared/metrics/registry.js';
import type { AttemptEnd, Worker, WorkerOptions } from '../worker/worker.js';
import { RETRY_LEFT_MS } from '../worker/attempt.js';
import { parseMetrics } from './harness/metrics-scrape.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { gated, useWorkerSuite } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';
import { zkConnect } from './harness/zk.js';

interface Line {
  level: number;
  msg: string;
  taskId?: string;
  [k: string]: unknown;
}
const INFO = 30;
const WARN = 40;
const ERROR = 50;

const { fx, startWorker: start, submitAndAssign, waitState } = useWorkerSuite({ gracePeriodMs: 500 });
let lines: Line[];
beforeEach(() => {
  lines = [];
});

function startWorker(opts: Partial<WorkerOptions> = {}): Promise<Worker> {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Line);
      cb();
    },
  });
  return start({ log: pino({ level: 'info' }, sink), ...opts });
}

/** Lines at info or above about task `id`. */
const about = (id: string) => lines.filter((l) => l.level >= INFO && (l.taskId === id || l.id === id));

describe('one report per finished attempt', () => {
  it('a listener that throws is logged once at error; the attempt still has its line, its count and its events', async () => {
    const registry = createMetricsRegistry();
    const w = await startWorker({ metrics: registry, handlers: { double: (p: number) => p * 2 } });
    const completed: unknown[] = [];
    const ended: AttemptEnd[] = [];
    w.on('committed', () => {
      throw new Error('listener bug: committed');
    });
    w.on('completed', () => {
      throw new Error('listener bug: completed');
    });
    w.on('completed', (e) => completed.push(e.result));
    w.on('ended', (e) => ended.push(e));
    const id = await submitAndAssign(w, { type: 'double', payload: 21 });
    await waitFor(() => ended.length === 1, { message: 'ended' });
    expect(completed).toEqual([42]);
    expect(about(id).map((l) => [l.level, l.outcome])).toEqual([[INFO, 'succeeded']]);
    const errors = lines.filter((l) => l.level >= ERROR);
    expect(errors.map((l) => [l.msg, l.err])).toEqual([
      ["a 'committed' listener threw; ignored", 'listener bug: committed'],
      ["a 'completed' listener threw; ignored", 'listener bug: completed'],
    ]);
    expect(w.stats.committed).toBe(1);
    const m = parseMetrics(await registry.metrics());
    expect(m.get('drover_worker_attempts_total', { type: 'double', outcome: 'succeeded' })).toBe(1);
  });

  it('a commit refused again and again is no end: the later run reports the attempt once', async () => {
    const registry = createMetricsRegistry();
    let runs = 0;
    const w = await startWorker({ metrics: registry, handlers: { once: () => ++runs } });
    const ended: AttemptEnd[] = [];
    w.on('ended', (e) => ended.push(e));
    // Its done shard gone: every finish multi (which creates the done entry) is refused while
    // the assignment and the record still say the attempt is ours.
    const id = 'left-1';
    const shard = fx.paths.doneShard(fx.paths.shard(id));
    await fx.session.remove(shard);
    await submitAndAssign(w, { type: 'once', id });
    const left = await waitFor(() => lines.find((l) => l.taskId === id && /^commit refused repeatedly/.test(l.msg)), { message: 'commit left' });
    // The line says why: the last refusal's message (the missing shard, under the done entry's path).
    expect(left.err).toEqual(expect.stringContaining(shard));
    await fx.session.create(shard);
    await waitState(id, 'succeeded');
    await waitFor(() => ended.length === 1, { timeoutMs: RETRY_LEFT_MS + 5000, message: 'ended' });
    await waitFor(() => w.inFlight === 0);
    expect(runs).toBe(2);
    expect(ended.map((e) => e.outcome)).toEqual(['succeeded']);
    expect(about(id).filter((l) => l.outcome !== undefined).map((l) => l.outcome)).toEqual(['succeeded']);
    const m = parseMetrics(await registry.metrics());
    expect(m.get('drover_worker_attempts_total', { type: 'once', outcome: 'abandoned' }) ?? 0).toBe(0);
    expect(m.get('drover_worker_attempts_total', { type: 'once', outcome: 'succeeded' })).toBe(1);
  }, 20_000);

  it('a commit refused again and again whose re-run never comes (the worker stops) is reported once, abandoned', async () => {
    const registry = createMetricsRegistry();
    const w = await startWorker({ metrics: registry, handlers: { once: () => 1 } });
    const ended: AttemptEnd[] = [];
    w.on('ended', (e) => ended.push(e));
    const id = 'left-2';
    const shard = fx.paths.doneShard(fx.paths.shard(id));
    await fx.session.remove(shard);
    try {
      await submitAndAssign(w, { type: 'once', id });
      await waitFor(() => lines.some((l) => l.taskId === id && /^commit refused repeatedly/.test(l.msg)), { message: 'commit left' });
      expect(ended).toEqual([]); // not over yet: a re-run would report it
      await w.stop(); // before the re-run (RETRY_LEFT_MS later)
      expect(ended.map((e) => [e.taskId, e.outcome])).toEqual([[id, 'abandoned']]);
      const m = parseMetrics(await registry.metrics());
      expect(m.get('drover_worker_attempts_total', { type: 'once', outcome: 'abandoned' })).toBe(1);
    } finally {
      await fx.session.create(shard).catch(() => undefined);
    }
  });

  it('a stop while a commit is unconfirmed is one warning saying so', async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      const ws = await fx.openSession({ connectString: proxy.connectString, requestTimeoutMs: 500 });
      const g = gated();
      const w = await startWorker({ session: ws, connectString: undefined, handlers: { held: g.handler } });
      const id = await submitAndAssign(w, { type: 'held' });
      await waitState(id, 'running');
      await waitFor(() => g.seen.started, { message: 'handler running' });
      proxy.cut('blackhole'); // the commit goes nowhere: never confirmed
      g.release('done');
      await w.stop();
      await ws.close();
      // The stop waits a bounded time for the commit; the attempt leaves the in-flight set once it gives up.
      await waitFor(() => w.inFlight === 0, { message: 'the commit gave up' });
      const mine = about(id);
      expect(mine.map((l) => [l.level, l.outcome])).toEqual([[WARN, 'abandoned']]);
      expect(mine[0]!.msg).toMatch(/ left unconfirmed in \d+ ms \(attempt 1\): the (worker stopped|session closed) before the commit was confirmed; left to the leader$/);
    } finally {
      await proxy.stop();
    }
  }, 20_000);
});
