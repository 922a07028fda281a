// The dashboard's HTTP side over real HTTP, against a real cluster (in-process masters and a
// worker on the suite's ZooKeeper), served by the FOLLOWER: the page's headers (strict CSP, no
// inline script, nosniff), the JSON API (content type, 404/400, lists bounded whatever the
// number of tasks), the task feed open only while a page listens, and what the dashboard
// costs in ZooKeeper requests, counted by the server on the dashboard's own session.
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDashboard, type Dashboard } from '../master/dashboard/index.js';
import { RECENT_MAX } from '../master/dashboard/task-log.js';
import { WORKERS_PAGE_MAX } from '../master/dashboard/routes.js';
import { startHttpServer, type RunningHttpServer } from '../shared/http/server.js';
import type { ZkSession } from '../shared/zk/session.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { lastXid } from './harness/server-requests.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, testLog } from './harness/zk.js';

const TICK_MS = 500;
let c: TestCluster;
let dash: Dashboard;
let http: RunningHttpServer;
let session: ZkSession;
const pool = new SessionPool();
let base = '';

beforeAll(async () => {
  c = await startCluster({ masters: 2, workers: [{ id: 'w1', concurrency: 8, handlers: { echo: async (p: unknown) => p } }] });
  const follower = c.masters.find((m) => !m.isLeader)!;
  session = await pool.open();
  dash = await openDashboard({ session, root: c.paths.root, master: follower, log: testLog, sampleIntervalMs: TICK_MS });
  http = await startHttpServer({ port: 0, routes: dash.routes });
  base = `http://127.0.0.1:${http.port}`;
});
afterAll(async () => {
  await http?.close();
  await dash?.close();
  await pool.closeAll();
  await c?.stop();
});

const get = async (path: string) => {
  const r = await fetch(base + path);
  return { status: r.status, headers: r.headers, text: await r.text() };
};
const getJson = async <T = Record<string, unknown>>(path: string) => {
  const r = await get(path);
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: r.status, body: JSON.parse(r.text) as T, headers: r.headers };
};

/** Opens the event stream as a page does; resolves once the `ready` event (the feed is open) came. */
function openEvents(): Promise<{ res: IncomingMessage; events: string[]; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/events`, (res) => {
      const events: string[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        for (const m of buf.matchAll(/^event: (\S+)$/gm)) events.push(m[1]!);
        buf = buf.slice(buf.lastIndexOf('\n\n') + 1);
        if (events.includes('ready')) resolve({ res, events, close: () => req.destroy() });
      });
      res.on('error', () => undefined);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard over HTTP', () => {
  it('serves the page with a strict CSP, its script and style at their own paths', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    // No inline script or style: every <script> has a src, no <style>, no on* attributes.
    expect(page.text).toMatch(/<script src="\/dashboard\.js" defer><\/script>/);
    expect(page.text.match(/<script/g)).toHaveLength(1);
    expect(page.text).not.toMatch(/<style|\son[a-z]+=/i);
    const js = await get('/dashboard.js');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect(js.text).not.toContain('innerHTML');
    expect((await get('/dashboard.css')).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('overview: the leader, both masters and the worker, from a follower', async () => {
    const leader = c.leader()!;
    const { body, headers } = await getJson<any>('/api/overview');
    expect(headers.get('x-content-type-options')).toBe('nosniff');
    expect(body.self.role).toBe('following');
    expect(body.leader).toMatchObject({ leader: true, epoch: leader.epoch });
    expect(body.masters).toHaveLength(2);
    expect(body.masters.filter((m: { self: boolean }) => m.self)).toHaveLength(1);
    expect(body.workers).toHaveLength(1);
    expect(body.workers[0]).toMatchObject({ id: 'w1', state: 'alive', capacity: 8 });
    expect(body.series.length).toBeGreaterThanOrEqual(1);
    expect(body.queue.depth).toBe(0);
  });

  it('task detail: 200 with the record, 404 for an unknown id, 400 for a malformed one', async () => {
    const { id } = await c.client.submit({ type: 'echo', payload: { n: 1 }, id: 'api-detail' });
    await c.client.wait(id, { timeoutMs: 10_000 });
    const ok = await getJson<any>('/api/task/api-detail');
    expect(ok.status).toBe(200);
    expect(ok.body.task).toMatchObject({ id: 'api-detail', state: 'succeeded', result: { n: 1 } });
    expect(ok.body.task.history).toEqual([expect.objectContaining({ attempt: 1, outcome: 'succeeded' })]);
    const missing = await getJson('/api/task/no-such-task');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: 'no task no-such-task' });
    expect((await getJson('/api/task/bad%20id')).status).toBe(400);
    expect((await getJson('/api/nothing-here')).status).toBe(404);
    expect((await getJson('/api/tasks/recent?state=bogus')).status).toBe(400);
  });

  it('the feed is open only while a page listens; lists stay bounded past their ceiling', async () => {
    expect(dash.stats()).toMatchObject({ pages: 0, feedOpen: false });
    const page = await openEvents();
    expect(dash.stats()).toMatchObject({ pages: 1, feedOpen: true });
    expect(page.events[0]).toBe('overview');
    const n = RECENT_MAX + 50;
    const subs = await c.client.submitMany(Array.from({ length: n }, (_, i) => ({ type: 'echo', payload: i, id: `bound-${i}` })));
    await c.client.waitMany(subs.map((s) => s.id), { timeoutMs: 30_000 });
    const recent = await waitFor(async () => {
      const r = await getJson<any>('/api/tasks/recent?limit=100000');
      return r.body.tasks.length === RECENT_MAX && r.body.tasks.every((t: { state: string }) => t.state === 'succeeded') && r.body;
    }, { message: 'recent tasks: the ceiling, all succeeded' });
    expect(recent.limit).toBe(RECENT_MAX);
    expect(recent.tasks[0].id).toMatch(/^bound-/);
    expect(recent.tasks[0]).not.toHaveProperty('payload'); // summaries only
    expect((await getJson<any>('/api/workers?limit=100000')).body.workers.length).toBeLessThanOrEqual(WORKERS_PAGE_MAX);
    expect(page.events).toContain('tasks');
    page.close();
    await waitFor(() => !dash.stats().feedOpen, { message: 'feed closed once the last page left' });
    expect(dash.stats()).toMatchObject({ pages: 0, feedOpened: 1, feedClosed: 1 });
  });

  it('with no page open the dashboard costs one request a tick, none per task', async () => {
    const ticks = (ms: number) => ms / TICK_MS;
    const before = await lastXid(session);
    const t0 = Date.now();
    const subs = await c.client.submitMany(Array.from({ length: 100 }, (_, i) => ({ type: 'echo', payload: i, id: `quiet-${i}` })));
    await c.client.waitMany(subs.map((s) => s.id), { timeoutMs: 30_000 });
    await waitFor(() => Date.now() - t0 >= 3000, { intervalMs: 100, message: '3 s' });
    const sent = (await lastXid(session)) - before;
    const elapsed = Date.now() - t0;
    // One multiRead per tick (a tick may be skipped while another is in flight), nothing else.
    expect(sent).toBeLessThanOrEqual(Math.ceil(ticks(elapsed)) + 1);
    expect(sent).toBeGreaterThanOrEqual(Math.floor(ticks(elapsed) / 2));
  });

  it('the leader and since when: its candidacy bounds it until a take-over is seen, then exact', async () => {
    const first = (await getJson<any>('/api/overview')).body.leader;
    // Leading before the dashboard looked: only its candidate node's creation bounds it.
    expect(first).toMatchObject({ sinceExact: false });
    expect(first.since).toBeLessThanOrEqual(Date.now());
    const t0 = Date.now();
    await c.leader()!.stop();
    const next = await waitFor(async () => {
      const l = (await getJson<any>('/api/overview')).body.leader;
      return l && l.epoch !== first.epoch && l;
    }, { message: 'the other master leads' });
    expect(next).toMatchObject({ sinceExact: true, self: true });
    expect(next.since).toBeGreaterThanOrEqual(t0);
    expect(next.since).toBeLessThanOrEqual(Date.now());
  });
});
