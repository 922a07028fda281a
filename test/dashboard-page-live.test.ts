// The dashboard page's live behaviour in a real headless Chromium, against an in-process
// cluster whose dashboard reads ZooKeeper through a TCP proxy the test cuts, with its limits
// lowered (one page at a time, five tasks a batch): a burst past the batch limit still ends
// with every task's final state on the page (it re-reads the list on a dropped batch); a page
// refused (503: one too many) tries again by itself and goes live once there is room; a
// ZooKeeper cut under the dashboard is shown on the badge, with how old the numbers are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboard, type Dashboard } from '../master/dashboard/index.js';
import { startHttpServer, type RunningHttpServer } from '../shared/http/server.js';
import { launchBrowser, type TestBrowser } from './harness/browser.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, testLog, zkConnect } from './harness/zk.js';

const WAIT = { timeout: 15_000 };
const BURST = 40;
let c: TestCluster;
let proxy: TcpProxy;
let dash: Dashboard;
let http: RunningHttpServer;
let browser: TestBrowser | undefined;
const pool = new SessionPool();
let url = '';

beforeAll(async () => {
  c = await startCluster({ masters: 1, workers: [{ id: 'w1', concurrency: 16, handlers: { echo: async (p: unknown) => p } }] });
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  proxy = await TcpProxy.start(host!, Number(port));
  const session = await pool.open({ connectString: proxy.connectString });
  dash = await openDashboard({ session, root: c.paths.root, master: c.masters[0]!, log: testLog, sampleIntervalMs: 500, maxPages: 1, batchMax: 5 });
  http = await startHttpServer({ port: 0, host: '127.0.0.1', routes: dash.routes });
  url = `http://127.0.0.1:${http.port}/`;
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await http?.close();
  await dash?.close();
  await pool.closeAll();
  await proxy?.stop();
  await c?.stop();
});

describe('dashboard page, live', () => {
  it('a burst past the batch limit, a refused page that comes back, a ZooKeeper cut on the badge', async () => {
    const first = browser!.page;
    await first.goto(url);
    await first.waitForSelector('#live[data-state="live"]', WAIT);

    // BURST tasks, five a batch: batches drop tasks; the page re-reads the list and ends right.
    const subs = await c.client.submitMany(Array.from({ length: BURST }, (_, i) => ({ type: 'echo', payload: i, id: `burst-${i}` })));
    await c.client.waitMany(subs.map((s) => s.id), { timeoutMs: 20_000 });
    type Doc = { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }> };
    await first.waitForFunction(
      ({ rows, n }) => {
        const d = (globalThis as unknown as { document: Doc }).document;
        return d.querySelectorAll(rows).length === n && Array.from(d.querySelectorAll(`${rows} td.state`)).every((td) => td.textContent === 'succeeded');
      },
      { rows: 'tr[data-task^="burst-"]', n: BURST },
      WAIT,
    );

    // One page at a time: a second is refused (503), which ends its EventSource for good; the
    // page opens a new one after ~5 s, and goes live once the first has gone.
    const second = await browser!.context.newPage();
    await second.goto(url);
    await second.waitForSelector('#live[data-state="down"] >> text=trying again', WAIT);
    expect(dash.stats().pages).toBe(1);
    await first.close();
    await second.waitForSelector('#live[data-state="live"]', WAIT);
    expect(dash.stats().pages).toBe(1);

    // ZooKeeper away under the dashboard: the badge says so and how old the numbers are.
    proxy.cut('close');
    const stale = await second.waitForSelector('#live[data-state="stale"]', WAIT);
    expect(await stale.textContent()).toMatch(/^ZooKeeper (disconnected|expired|connecting) — sampled \d/);
    proxy.heal();
    await second.waitForSelector('#live[data-state="live"]', { timeout: 20_000 });
    expect(browser!.console.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  }, 60_000);
});
