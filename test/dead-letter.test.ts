// The dead-letter view: `drover list --dead-letter` (the failed tasks newest first, error kind,
// the message's first line, attempts used, how to retry) and the dashboard's "Dead letter"
// panel in a real headless Chromium (textContent only: a message of markup stays text), kept
// live from the task feed: a new failure appears, a retried task leaves. An idle page costs no
// ZooKeeper request per failed task. In-process cluster and dashboard on the suite's ZooKeeper.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import type { TaskPage } from '../client/list.js';
import { openDashboard, type Dashboard } from '../master/dashboard/index.js';
import { startHttpServer, type RunningHttpServer } from '../shared/http/server.js';
import type { ZkSession } from '../shared/zk/session.js';
import { DeadLetter } from '../master/dashboard/dead-letter.js';
import { compareVersions } from '../master/dashboard/record-order.js';
import { TaskLog } from '../master/dashboard/task-log.js';
import { DEFAULT_LIMITS, newTaskRecord } from '../shared/protocol/task-record.js';
import { assignTask, failAttempt, retryTask, startTask } from '../shared/protocol/task-state.js';
import { NonRetryableError } from '../worker/handlers.js';
import { launchBrowser, type TestBrowser } from './harness/browser.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli } from './harness/cli-run.js';
import { lastXid } from './harness/server-requests.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, testLog, zkConnect } from './harness/zk.js';

const XSS = '<img src=x onerror="window.__pwned=1">';
const WAIT = { timeout: 15_000 };
const TICK_MS = 500;
const healthy = new Set<string>();
const gate = (p: { key: string; message?: string }) => {
  if (healthy.has(p.key)) return 'ok';
  throw new NonRetryableError(p.message ?? `${p.key} is down`);
};

const pool = new SessionPool();
let c: TestCluster;
let dash: Dashboard;
let http: RunningHttpServer;
let session: ZkSession;
let browser: TestBrowser | undefined;
let g: string[] = [];
beforeAll(async () => {
  c = await startCluster({ workers: [{ id: 'dl-w1', concurrency: 4, handlers: { gate } }] });
  g = ['--zk', zkConnect(), '--root', c.paths.root, '--session-timeout', '2s'];
  session = await pool.open();
  [dash, browser] = await Promise.all([openDashboard({ session, root: c.paths.root, master: c.masters[0]!, log: testLog, sampleIntervalMs: TICK_MS }), launchBrowser()]);
  http = await startHttpServer({ port: 0, routes: dash.routes });
  await c.client.submit({ type: 'gate', id: 'ok-1', payload: { key: 'ok' } });
  healthy.add('ok');
  await c.client.wait('ok-1');
  for (const [id, message] of [['dl-1', 'upstream 503\n  at fetch (x.js:1)'], ['dl-2', `bad input ${XSS}`]] as const) {
    await c.client.submit({ type: 'gate', id, payload: { key: id, message }, maxAttempts: 2 });
    await c.client.wait(id).catch(() => undefined);
  }
});
afterAll(async () => {
  await browser?.close();
  await http?.close();
  await dash?.close();
  await pool.closeAll();
  await c?.stop();
});

describe('drover list --dead-letter', () => {
  it('the failed tasks newest first: error kind and first line, attempts used, the retry hint', async () => {
    const r = await runCli(['list', '--dead-letter', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^dl-2\tgate\t\\d{4}-.*Z\t\\[handler\\] bad input ${XSS.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\t1/2 attempts used, 0 lost$`));
    expect(lines[1]).toMatch(/^dl-1\tgate\t\d{4}-.*Z\t\[handler\] upstream 503\t1\/2 attempts used, 0 lost$/);
    expect(lines[2]).toBe('2 of 2 failed tasks (retry one: drover retry ID; all of a type: drover retry --state failed --type T --yes)');
    const json = await runCli(['list', '--dead-letter', '--json', ...g]);
    const page = JSON.parse(json.stdout) as TaskPage;
    expect(page.tasks.map((t) => [t.id, t.state])).toEqual([['dl-2', 'failed'], ['dl-1', 'failed']]);
    const bad = await runCli(['list', '--dead-letter', '--state', 'succeeded', ...g]);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain('--dead-letter lists failed tasks');
  });
});

describe('the dashboard\'s Dead letter panel', () => {
  it('shows the failed tasks with error and attempts and the retry command; a new failure appears, a retried one leaves', async () => {
    const page = browser!.page;
    await page.goto(`http://127.0.0.1:${http.port}/`);
    await page.waitForSelector('#live[data-state="live"]', WAIT);
    const row = await page.waitForSelector('tr[data-dead="dl-1"]', WAIT);
    const cells = await row.$$eval('td', (tds) => tds.map((td) => td.textContent));
    expect(cells.slice(1)).toEqual(['dl-1', 'gate', 'handler', 'upstream 503', '1 / 2', 'drover retry dl-1']);
    // Markup in a message is text: there literally, no element made of it.
    const reason = await page.waitForSelector('tr[data-dead="dl-2"] td.reason', WAIT);
    expect(await reason.textContent()).toBe(`bad input ${XSS}`);
    expect(await page.locator('#dead-letter img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.$$eval('#dead-letter tr', (trs) => trs.map((tr) => tr.getAttribute('data-dead')))).toEqual(['dl-2', 'dl-1']);

    // Idle (nothing changes): the dashboard's session sends its ticks' reads, nothing per failed task.
    const before = await lastXid(session);
    const t0 = Date.now();
    await waitFor(() => Date.now() - t0 >= 2000, { intervalMs: 100, message: '2 s' });
    const sent = (await lastXid(session)) - before;
    // Per tick: the sample's multiRead and the workers' loads (wantLoads while a page is open).
    expect(sent).toBeLessThanOrEqual(2 * (Math.ceil((Date.now() - t0) / TICK_MS) + 1));

    // Live: a new failure comes in on top; a retried one (now healthy) leaves.
    await c.client.submit({ type: 'gate', id: 'dl-3', payload: { key: 'dl-3' } });
    await page.waitForSelector('#dead-letter tr[data-dead="dl-3"]:first-child', WAIT);
    healthy.add('dl-1');
    expect(await c.client.retry('dl-1')).toEqual({ retried: true, state: 'queued' });
    await page.waitForSelector('tr[data-dead="dl-1"]', { state: 'detached', timeout: 15_000 });
    await waitFor(async () => (await c.client.get('dl-1'))?.state === 'succeeded', { message: 'dl-1 succeeded' });
    expect(await page.$$eval('#dead-letter tr', (trs) => trs.map((tr) => tr.getAttribute('data-dead')))).toEqual(['dl-3', 'dl-2']);
    // The API says the same (from memory).
    const api = (await (await fetch(`http://127.0.0.1:${http.port}/api/dead-letter`)).json()) as { tasks: Array<{ id: string; retry: string }>; seeded: boolean; complete: boolean };
    expect(api.tasks.map((t) => [t.id, t.retry])).toEqual([['dl-3', 'drover retry dl-3'], ['dl-2', 'drover retry dl-2']]);
    expect([api.seeded, api.complete]).toEqual([true, true]);
    // The task view's attempt budget comes from the server (attemptsUsed: since the retry, 1 of 2).
    const one = (await (await fetch(`http://127.0.0.1:${http.port}/api/task/dl-1`)).json()) as { task: { attempt: number }; attemptsUsed: number };
    expect([one.task.attempt, one.attemptsUsed]).toEqual([2, 1]);
    await page.evaluate('location.hash = "#/task/dl-1"');
    const att = await page.waitForSelector('#detail-body tr:has(th:text-is("attempt")) td', WAIT);
    expect(await att.textContent()).toMatch(/^2 \(1 of 2 used, 0 lost/);
    await page.evaluate('location.hash = ""');
    // One that failed while the page was open (the feed saw it finish) leaves too once retried,
    // and its re-run shows in the recent list.
    healthy.add('dl-3');
    expect(await c.client.retry('dl-3')).toEqual({ retried: true, state: 'queued' });
    await page.waitForSelector('tr[data-dead="dl-3"]', { state: 'detached', timeout: 15_000 });
    await waitFor(async () => (await c.client.get('dl-3'))?.state === 'succeeded', { message: 'dl-3 succeeded' });
    expect(await page.$$eval('#dead-letter tr', (trs) => trs.map((tr) => tr.getAttribute('data-dead')))).toEqual(['dl-2']);
    await waitFor(async () => {
      const r = (await (await fetch(`http://127.0.0.1:${http.port}/api/tasks/recent`)).json()) as { tasks: Array<{ id: string; state: string }> };
      return r.tasks.find((t) => t.id === 'dl-3')?.state === 'succeeded';
    }, { message: 'dl-3 succeeded in the recent list' });
    expect(browser!.console.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  });

  it('with too many tasks to seed from a listing, the panel says it holds only the failures since the page opened', async () => {
    const big = await openDashboard({ session, root: c.paths.root, master: c.masters[0]!, log: testLog, sampleIntervalMs: TICK_MS, seedMaxNames: 1 });
    const server = await startHttpServer({ port: 0, routes: big.routes });
    try {
      const page = browser!.page;
      await page.goto(`http://127.0.0.1:${server.port}/`);
      await page.waitForSelector('#live[data-state="live"]', WAIT);
      const note = '(failures since this page opened; all: drover list --dead-letter)';
      await waitFor(async () => (await page.textContent('#dead-letter-note')) === note, { message: 'the note' });
      expect(await page.locator('#dead-letter tr').count()).toBe(0); // dl-2 failed before: not seeded
      const api = (await (await fetch(`http://127.0.0.1:${server.port}/api/dead-letter`)).json()) as { tasks: unknown[]; seeded: boolean };
      expect([api.tasks.length, api.seeded]).toEqual([0, false]);
      await c.client.submit({ type: 'gate', id: 'dl-4', payload: { key: 'dl-4' } });
      await page.waitForSelector('#dead-letter tr[data-dead="dl-4"]', WAIT);
      expect(await page.textContent('#dead-letter-note')).toBe(note);
    } finally {
      await server.close();
      await big.close();
    }
  });

  it('the whole-list dead-letter event goes at most once a second, however often failures come; the last one in a trailing frame', async () => {
    // A dashboard of its own that samples once a minute: no overview tick flushes for the
    // throttle, so only its own trailing timer can send the last failure.
    const quiet = await openDashboard({ session, root: c.paths.root, master: c.masters[0]!, log: testLog, sampleIntervalMs: 60_000 });
    const quietHttp = await startHttpServer({ port: 0, routes: quiet.routes });
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${quietHttp.port}/api/events`, { signal: ac.signal });
    const reader = res.body!.getReader();
    let text = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
    })().catch(() => undefined);
    try {
      // A failure every ~150 ms for ~3 s: a flush (every 250 ms) with a failure in nearly each.
      const t0 = Date.now();
      let last = '';
      for (let i = 0; Date.now() - t0 < 3000; i++) {
        const t = Date.now();
        last = `burst-${i}`;
        await c.client.submit({ type: 'gate', id: last, payload: { key: last } });
        await waitFor(() => Date.now() - t >= 150, { intervalMs: 20, message: '150 ms' });
      }
      // Whole dead-letter events only (an event ends at a blank line; 'tasks' events name ids too).
      const frames = () => text.split('\n\n').filter((f) => f.startsWith('event: dead-letter\n'));
      await waitFor(() => frames().at(-1)?.includes(`"id":"${last}"`) === true, { intervalMs: 50, message: `the burst's last failure (${last}) sent` });
      // One more failure just after a frame (well within the second): nothing else comes after
      // it, so only the throttle's trailing frame can send it.
      const before = frames().length;
      last = 'burst-last';
      await c.client.submit({ type: 'gate', id: last, payload: { key: last } });
      await c.client.wait(last).catch(() => undefined);
      await waitFor(() => frames().at(-1)?.includes(`"id":"${last}"`) === true, { intervalMs: 50, message: `the last failure (${last}) in a trailing dead-letter frame` });
      expect(frames().length).toBe(before + 1);
      const secs = (Date.now() - t0) / 1000;
      expect(frames().length).toBeGreaterThanOrEqual(2);
      // The one at connect, then at most one a second.
      expect(frames().length).toBeLessThanOrEqual(Math.ceil(secs) + 2);
    } finally {
      ac.abort();
      await reading;
      await quietHttp.close();
      await quiet.close();
    }
  });
});

describe('the dashboard lists order versions by retry and attempt first (pure)', () => {
  it('a re-run that fails before the clock of the host that retried it (ahead by 4 s) is newer, in the dead letter and the task log', () => {
    const r = newTaskRecord({ type: 't', id: 'skew', maxAttempts: 1 }, DEFAULT_LIMITS, 0);
    const failed1 = failAttempt(startTask(assignTask(r, 'w~1', 1, 100), 200), { kind: 'handler', retryable: false, message: 'one' }, 1000);
    // Retried from a CLI host whose clock reads 5000; the re-run fails at 3000 by the worker's.
    const queued = retryTask(failed1, 5000);
    const failed2 = failAttempt(startTask(assignTask(queued, 'w~2', 1, 2000), 2500), { kind: 'handler', retryable: false, message: 'two' }, 3000);
    expect(failed2.updatedAt).toBeLessThan(queued.updatedAt);
    const dl = new DeadLetter();
    expect(dl.take(failed1)).toBe(true);
    expect(dl.take(queued)).toBe(true);
    expect(dl.size).toBe(0);
    expect(dl.take(failed2)).toBe(true);
    expect(dl.list().map((e) => [e.id, e.message, e.retries])).toEqual([['skew', 'two', 1]]);
    // An older version read late (a seed) does not bring the first failure back.
    expect(dl.take(failed1)).toBe(false);
    expect(dl.take(queued)).toBe(false);
    const log = new TaskLog();
    for (const v of [failed1, queued, failed2]) expect(log.seed(v)).not.toBeNull();
    expect(log.recentTasks(5).map((t) => [t.state, t.attempt, t.retries])).toEqual([['failed', 2, 1]]);
    expect(log.seed(queued)).toBeNull();
    expect(compareVersions(failed2, queued)).toBeGreaterThan(0);
    expect(compareVersions(failed2, failed2)).toBe(0);
  });
});
