// A worker's /metrics, scraped over real HTTP from a real `drover worker --http 0` process
// after a known sequence: successes, a failure a retry cures, a timeout, and a commit fenced
// after a real TCP partition past the session (its attempt reclaimed by a real master). And,
// in process, what the sequence cannot show: the "other" type, errors by code, a registry
// shared by two workers and two sessions.
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { createMetricsRegistry, type Registry } from '../shared/metrics/registry.js';
import { ProcessPool, type DroverProcess, type LogLine } from './harness/processes.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { submitAndAssignTo } from './harness/worker-fixture.js';
import { waitFor } from './harness/wait-for.js';
import { parseMetrics, scrape } from './harness/metrics-scrape.js';
import { Worker } from '../worker/worker.js';

const HANDLERS = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'metrics-handlers.mjs');
const pool = new SessionPool();
const procs = new ProcessPool();
const proxies: TcpProxy[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop().catch(() => undefined);
  await procs.killAll();
  for (const p of proxies.splice(0)) await p.stop();
  await pool.closeAll();
});

const inRegistry = async (r: Registry) => parseMetrics(await r.metrics());

const ended = (id: string, attempt: number, outcome: string) => (l: LogLine) => l.id === id && l.attempt === attempt && l.outcome === outcome;

describe('worker metrics', () => {
  it('over HTTP from a real worker: attempts by outcome, fenced commits, latencies, load, and the session reconnect and expiry', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const common = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    procs.spawn('m1', ['master', '--id', 'm1', ...common]);
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const cut = await TcpProxy.start(host!, Number(port));
    proxies.push(cut);
    const w: DroverProcess = procs.spawn('wm', ['worker', '--id', 'wm', '--concurrency', '2', '--handlers', HANDLERS, '--http', '0', ...common.slice(2), '--zk', cut.connectString]);
    await w.waitForLine((l) => l.msg === 'worker alive', 15_000, 'worker alive');
    const url = String((await w.waitForLine((l) => typeof l.url === 'string', 15_000, 'metrics url')).url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    // The start is said once (was three lines: worker running, taking tasks, worker alive).
    expect(w.lines.filter((l) => l.level >= 30 && /alive|running|taking tasks/.test(l.msg)).map((l) => l.msg)).toEqual(['worker alive']);

    const m0 = await scrape(url);
    expect(m0.sum('drover_worker_capacity')).toBe(2);
    expect(m0.sum('drover_worker_running')).toBe(0);
    expect(m0.sum('drover_zk_connected')).toBe(1);
    expect(m0.sum('drover_zk_reconnects_total')).toBe(0);
    expect(m0.sum('drover_zk_session_expiries_total')).toBe(0);
    expect(m0.sum('drover_zk_requests_total', { op: 'create' })).toBeGreaterThan(0);

    // Five successes, a failure that a retry cures, a timeout.
    const N = 5;
    const oks = await Promise.all(Array.from({ length: N }, (_, i) => client.submit({ type: 'echo', payload: i })));
    const flaky = await client.submit({ type: 'flaky', maxAttempts: 2, backoff: { initialMs: 50, factor: 1, maxMs: 50 } });
    const slow = await client.submit({ type: 'sleep', payload: { ms: 20_000 }, timeoutMs: 300, maxAttempts: 1 });
    for (const { id } of oks) await w.waitForLine(ended(id, 1, 'succeeded'), 15_000, `${id} succeeded`);
    await w.waitForLine(ended(flaky.id, 1, 'retried'), 15_000, 'flaky retried');
    await w.waitForLine(ended(flaky.id, 2, 'succeeded'), 15_000, 'flaky succeeded');
    await w.waitForLine(ended(slow.id, 1, 'timeout'), 15_000, 'slow timed out');

    const m1 = await scrape(url);
    expect(m1.by('drover_worker_attempts_total', ['type', 'outcome'])).toEqual({ 'echo/succeeded': N, 'flaky/retried': 1, 'flaky/succeeded': 1, 'sleep/timeout': 1 });
    expect(m1.sum('drover_worker_fenced_commits_total')).toBe(0);

    // A partition past the session: the master takes the attempt back, the worker's late commit is fenced.
    const held = await client.submit({ type: 'held', maxAttempts: 3 });
    await waitFor(async () => (await client.get(held.id))?.state === 'running', { message: 'held running' });
    cut.cut('blackhole');
    await waitFor(async () => (await client.get(held.id))?.state === 'queued', { timeoutMs: 15_000, message: 'held re-queued by the master' });
    cut.heal();
    await w.waitForLine(ended(held.id, 1, 'fenced'), 20_000, 'attempt 1 fenced');
    await w.waitForLine(ended(held.id, 2, 'succeeded'), 20_000, 'attempt 2 succeeded');

    const m2 = await scrape(url);
    const attempts = { 'echo/succeeded': N, 'flaky/retried': 1, 'flaky/succeeded': 1, 'sleep/timeout': 1, 'held/fenced': 1, 'held/succeeded': 1 };
    expect(m2.by('drover_worker_attempts_total', ['type', 'outcome'])).toEqual(attempts);
    expect(m2.by('drover_worker_attempt_duration_seconds_count', ['type', 'outcome'])).toEqual(attempts);
    expect(m2.sum('drover_worker_fenced_commits_total')).toBe(1);
    // Per attempt started: echo 5, flaky 2, sleep 1, held 2 (its first attempt too).
    expect(m2.by('drover_task_start_delay_seconds_count', ['type'])).toEqual({ echo: N, flaky: 2, sleep: 1, held: 2 });
    // Per task finished (succeeded or failed for good).
    expect(m2.by('drover_task_latency_seconds_count', ['type'])).toEqual({ echo: N, flaky: 1, sleep: 1, held: 1 });
    // The timed-out attempt ran its 300 ms: not in the buckets below that, in the 0.5 s one.
    const timedOut = { type: 'sleep', outcome: 'timeout' };
    expect(m2.sum('drover_worker_attempt_duration_seconds_bucket', { ...timedOut, le: '0.25' })).toBe(0);
    expect(m2.sum('drover_worker_attempt_duration_seconds_bucket', { ...timedOut, le: '0.5' })).toBe(1);
    expect(m2.sum('drover_worker_attempt_duration_seconds_sum', timedOut)).toBeGreaterThanOrEqual(0.29);
    expect(m2.sum('drover_worker_running')).toBe(0);
    expect(m2.sum('drover_zk_session_expiries_total')).toBeGreaterThanOrEqual(1);
    expect(m2.sum('drover_zk_reconnects_total')).toBeGreaterThanOrEqual(1);
    expect(m2.sum('drover_zk_connected')).toBe(1);
    // Every multi sent was timed: starts, finishes (a group commit counts once), registration.
    const multis = m2.sum('drover_zk_requests_total', { op: 'multi' });
    expect(multis).toBeGreaterThanOrEqual(6);
    expect(m2.sum('drover_zk_request_duration_seconds_count', { op: 'multi' })).toBe(multis);
    // The process's own metrics are there too.
    expect(m2.sum('process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('in process: a type the worker has no handler for is "other"; errors by op and code; one registry for two workers and their sessions', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const registry = createMetricsRegistry();
    const mk = async (id: string, concurrency: number) => {
      const w = new Worker({ connectString: zkConnect(), root: paths.root, id, concurrency, sessionTimeoutMs: TEST_SESSION_MS, metrics: registry });
      workers.push(w);
      await w.start();
      return w;
    };
    const w1 = await mk('w1', 3);
    const w2 = await mk('w2', 2);
    let m = await inRegistry(registry);
    expect(m.sum('drover_worker_capacity')).toBe(5);
    expect(m.sum('drover_zk_connected')).toBe(2);

    await submitAndAssignTo(s, paths, w1.memberName!, [{ type: 'nope' }]);
    await waitFor(async () => (await inRegistry(registry)).sum('drover_worker_attempts_total') === 1, { message: 'unknown type ended' });
    m = await inRegistry(registry);
    expect(m.by('drover_worker_attempts_total', ['type', 'outcome'])).toEqual({ 'other/unknown-type': 1 });

    // A session's errors, by operation and code.
    const own = await pool.open({ metrics: registry });
    await expect(own.getData(`${paths.root}/no-such-node`)).rejects.toMatchObject({ code: 'NO_NODE' });
    await expect(own.create(paths.root)).rejects.toMatchObject({ code: 'NODE_EXISTS' });
    expect(await own.exists(`${paths.root}/no-such-node`)).toBeNull();
    m = await inRegistry(registry);
    expect(m.by('drover_zk_request_errors_total', ['op', 'code'])).toMatchObject({ 'getData/NO_NODE': 1, 'create/NODE_EXISTS': 1 });
    expect(m.sum('drover_zk_request_errors_total', { op: 'exists' })).toBe(0);
    expect(m.sum('drover_zk_connected')).toBe(3);
    await own.close();

    // A stopped worker and a closed session no longer count.
    await w2.stop();
    m = await inRegistry(registry);
    expect(m.sum('drover_worker_capacity')).toBe(3);
    expect(m.sum('drover_zk_connected')).toBe(1);
  });
});
