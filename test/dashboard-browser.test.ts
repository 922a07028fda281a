// The dashboard in a real headless Chromium (the OS package, through playwright-core) against
// a real cluster of processes: two `drover master --http 0`, two `drover worker`, the suite's
// ZooKeeper. The page is loaded from the FOLLOWER. It shows the leader and the workers, a task
// reaching `succeeded`, a worker killed -9 leaving, a failure with its reason, a task's detail
// with its attempt, and a payload and an error message full of markup shown as text (nothing
// of it runs). Set DROVER_DASHBOARD_SCREENSHOT=docs/dashboard.png to also save the README's
// screenshot there.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { readLeader } from '../shared/zk/election.js';
import { launchBrowser, type TestBrowser } from './harness/browser.js';
import { ProcessPool, type DroverProcess } from './harness/processes.js';
import { tempDir } from './harness/temp.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';

const XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
const WAIT = { timeout: 15_000 };

const pool = new SessionPool();
const procs = new ProcessPool();
let browser: TestBrowser | undefined;
let client: DroverClient;
let followerUrl = '';
let workers: DroverProcess[] = [];

/** The URL a process logged for its HTTP server (a JSON log line with a `url` field). */
const urlOf = async (p: DroverProcess) => String((await p.waitForLine((l) => typeof l.url === 'string', 15_000, `${p.name}: http url`)).url);

beforeAll(async () => {
  const s = await pool.open();
  const paths = await freshLayout(s);
  client = await DroverClient.connect({ session: s, root: paths.root });
  const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS), '--log-format', 'json'];
  const m1 = procs.spawn('m1', ['master', '--id', 'dash-m1', '--http', '0', ...g]);
  // Candidates line up in the order they join: the second joins once the first leads.
  await waitFor(async () => (await readLeader(s, paths.election))?.id === 'dash-m1', { timeoutMs: 15_000, message: 'dash-m1 leads' });
  const m2 = procs.spawn('m2', ['master', '--id', 'dash-m2', '--http', '0', ...g]);
  workers = ['dash-w1', 'dash-w2'].map((id) => procs.spawn(id, ['worker', '--id', id, '--concurrency', '2', '--labels', `zone=${id.slice(-2)}`, ...g]));
  [followerUrl] = await Promise.all([urlOf(m2), urlOf(m1), (async () => (browser = await launchBrowser()))()]);
  await waitFor(async () => (await client.status()).workers.filter((w) => w.state === 'alive').length === 2, { timeoutMs: 15_000, message: 'two workers alive' });
});
afterAll(async () => {
  await browser?.close();
  await procs.killAll();
  await pool.closeAll();
});

/**
 * For the README's screenshot only (DROVER_DASHBOARD_SCREENSHOT): a third worker, and a minute
 * of mixed traffic (sleeps of 0.2-2 s, now and then a failure) so the chart has a shape.
 */
async function busyCluster(page: TestBrowser['page']): Promise<void> {
  const g = procs.spawn('dash-w3', ['worker', '--id', 'dash-w3', '--concurrency', '4', '--labels', 'gpu=yes', '--zk', zkConnect(), '--root', client.paths.root, '--log-format', 'json']);
  await page.waitForSelector('tr[data-worker^="dash-w3~"]', WAIT);
  await page.fill('#search-id', '');
  const until = Date.now() + 60_000;
  for (let i = 0; Date.now() < until; i++) {
    const burst = i % 20 < 8 ? 10 : 1; // bursts past the workers' capacity (6), then a lull: the queue fills and drains
    await client.submitMany(
      Array.from({ length: burst }, (_, j) =>
        (i * 7 + j) % 23 === 0
          ? { type: 'fail', payload: { retryable: (i + j) % 2 === 0, message: 'upstream returned 503' }, maxAttempts: 2, backoff: { initialMs: 500, factor: 2, maxMs: 2000 } }
          : { type: 'sleep', payload: { ms: 200 + ((i * 13 + j * 29) % 1800) }, ...(j % 3 === 0 ? { labels: { gpu: 'yes' } } : {}) },
      ),
    );
    await page.waitForTimeout(1000); // pacing the traffic, not waiting for a condition
  }
  await waitFor(() => g.running, { message: 'dash-w3 runs' });
}

describe('dashboard in headless Chromium', () => {
  it('from the follower: leader, workers, a task succeeding, a worker killed, a failure, the detail view, markup shown as text', async () => {
    const page = browser!.page;
    const consoleLog = () => browser!.console.join('\n');
    const response = await page.goto(followerUrl);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");

    // Who leads, seen from the follower; both masters; both workers.
    await page.waitForSelector('#leader b[data-leader="dash-m1"]', WAIT);
    await page.waitForSelector('#masters tr[data-master="dash-m2"] >> text=this page', WAIT);
    const masterCells = await page.$$eval('#masters tr[data-master="dash-m2"] td', (tds) => tds.length);
    expect(await page.locator('#masters').locator('xpath=..').locator('thead th').count()).toBe(masterCells); // a header per cell
    await page.waitForSelector('tr[data-worker^="dash-w1~"]', WAIT);
    await page.waitForSelector('tr[data-worker^="dash-w2~"]', WAIT);
    expect(await page.textContent('tr[data-worker^="dash-w1~"]')).toContain('zone=w1');
    // Live: the event stream is open and the task feed with it.
    await page.waitForSelector('#live[data-state="live"]', WAIT);

    // A task reaches succeeded in the page.
    await client.submit({ type: 'echo', id: 'dash-ok', payload: { hello: 'world' } });
    await page.waitForSelector('tr[data-task="dash-ok"] td.state >> text=succeeded', WAIT);

    // A failure with its reason, markup in the message shown as text.
    await client.submit({ type: 'fail', id: 'dash-fail', payload: { retryable: false, message: `boom ${XSS}` } });
    const reason = await page.waitForSelector('tr[data-failure="dash-fail"] td.reason', WAIT);
    expect(await reason.textContent()).toBe(`boom ${XSS}`);
    expect(await reason.$$('span *')).toHaveLength(0); // the message's one span, nothing parsed inside it

    // A payload of markup: shown as text in the list and the detail view, nothing of it runs.
    await client.submit({ type: 'echo', id: 'dash-xss', payload: XSS });
    await page.waitForSelector('tr[data-task="dash-xss"] td.state >> text=succeeded', WAIT);
    await page.click('tr[data-task="dash-xss"] a');
    await page.waitForSelector('#history tr[data-attempt="1"]', WAIT);
    const record = JSON.parse((await page.textContent('#detail-record'))!) as { payload: unknown; result: unknown };
    expect(record.payload).toBe(XSS);
    expect(record.result).toBe(XSS);
    // The proof is that the markup stayed text: it is there literally, and no element was made
    // of it (the CSP would stop the script even if it had been parsed, so __pwned alone
    // could not fail; it stays as a second line of defence checked).
    expect(await page.textContent('#detail-record')).toContain('<script>window.__pwned=1</script><img src=x onerror=');
    expect(await page.locator('#detail-record *, main img, main script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();

    // The detail view of the first task, through the search box: its one attempt, on a worker.
    await page.fill('#search-id', 'dash-ok');
    await page.press('#search-id', 'Enter');
    await page.waitForSelector('#detail-id >> text=dash-ok', WAIT);
    const attempt = await page.waitForSelector('#history tr[data-attempt="1"]', WAIT);
    const cells = await attempt.$$eval('td', (tds) => tds.map((td) => td.textContent));
    expect(cells[1]).toMatch(/^dash-w[12]~/);
    expect(cells[6]).toBe('succeeded');
    // An unknown id says so.
    await page.fill('#search-id', 'no-such-task');
    await page.press('#search-id', 'Enter');
    await page.waitForSelector('#detail-msg >> text=no task no-such-task', WAIT);

    // kill -9 a worker: it leaves the page once its session expires.
    const victim = workers[1]!;
    victim.kill9();
    await page.waitForSelector('tr[data-worker^="dash-w2~"]', { state: 'detached', timeout: 15_000 });
    expect(await page.locator('tr[data-worker^="dash-w1~"]').count()).toBe(1);

    const shot = join(tempDir('drover-dashboard-'), 'dashboard.png');
    await page.click('#detail-close');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    const readme = process.env.DROVER_DASHBOARD_SCREENSHOT;
    if (readme) {
      await busyCluster(page);
      await page.screenshot({ path: resolve(readme), fullPage: true });
      expect(existsSync(resolve(readme))).toBe(true);
    }
    expect(browser!.console.filter((l) => l.startsWith('pageerror')), consoleLog()).toEqual([]);
  }, process.env.DROVER_DASHBOARD_SCREENSHOT ? 150_000 : 60_000);
});
