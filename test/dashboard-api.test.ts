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
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, testLog, zkConnect } from './harness/zk.js';

const TICK_MS = 500;
let c: TestCluster;
let dash: Dashboard;
let http: RunningHttpServer;
let session: ZkSession;
const pool = new SessionPool();
let base = '';
/** The third attempt of a `flaky` task waits for this, so a page can open in the middle. */
let releaseFlaky!: () => void;
const flakyGate = new Promise<void>((r) => (releaseFlaky = r));
const flaky = async (_p: unknown, ctx: { attempt: number }) => {
  if (ctx.attempt >= 3) await flakyGate;
  throw new Error(`flaky attempt ${ctx.attempt}`);
};

beforeAll(async () => {
  c = await startCluster({ masters: 2, workers: [{ id: 'w1', concurrency: 8, handlers: { echo: async (p: unknown) => p, flaky } }] });
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

const get = async (path: string, at = base) => {
  const r = await fetch(at + path);
  return { status: r.status, headers: r.headers, text: await r.text() };
};
const getJson = async <T = Record<string, unknown>>(path: string, at = base) => {
  const r = await get(path, at);
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  return { status: r.status, body: JSON.parse(r.text) as T, headers: r.headers };
};

interface EventsPage {
  res: IncomingMessage;
  events: string[];
  frames: Array<{ event: string; data: any }>;
  close: () => void;
}

/** Opens the event stream as a page does; resolves once the `ready` event (the feed is open) came. */
function openEvents(at = base): Promise<EventsPage> {
  return new Promise((resolve, reject) => {
    const req = request(`${at}/api/events`, (res) => {
      const page: EventsPage = { res, events: [], frames: [], close: () => req.destroy() };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        const done = buf.split('\n\n');
        buf = done.pop()!;
        for (const f of done) {
          const ev = /^event: (\S+)$/m.exec(f)?.[1];
          const data = /^data: (.*)$/m.exec(f)?.[1];
          if (!ev) continue;
          page.events.push(ev);
          page.frames.push({ event: ev, data: data === undefined ? undefined : JSON.parse(data) });
        }
        if (page.events.includes('ready')) resolve(page);
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
    expect(csp).toContain("img-src 'none'"); // the page has no images (its chart is inline SVG)
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
    expect(body.zookeeper).toMatchObject({ state: 'connected', downSince: null, sampledAt: expect.any(Number) });
    // No page connected: the workers' loads are not read (only the shard stats, for the ring).
    expect(body.workers[0].load).toBeNull();
    expect(body.queue.inProgress).toBeNull();
  });

  it('a request whose Host is not a loopback name is refused (DNS rebinding); loopback names with any port pass', async () => {
    const withHost = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${base}/api/overview`, { headers: { host } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
    for (const evil of ['evil.example', `evil.example:${http.port}`, `127.0.0.1.evil.example:${http.port}`, `localhost.evil.example`]) {
      const r = await withHost(evil);
      expect(r.status, evil).toBe(421);
      expect(r.body).not.toContain('"leader"');
    }
    for (const ok of [`localhost:${http.port}`, 'localhost', `127.0.0.1:${http.port}`, `[::1]:${http.port}`, 'LOCALHOST:80']) expect((await withHost(ok)).status, ok).toBe(200);
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

  it('a page opened late: recent tasks seeded by a listing, every failed attempt from the history with its own error, loads read', async () => {
    expect(dash.stats().feedOpen).toBe(false);
    const seeds = await c.client.submitMany(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: i, id: `seed-${i}` })));
    await c.client.waitMany(seeds.map((x) => x.id), { timeoutMs: 10_000 });
    await c.client.submit({ type: 'flaky', id: 'flaky-1', maxAttempts: 3, backoff: { initialMs: 10, factor: 1, maxMs: 10 } });
    await waitFor(async () => {
      const r = await c.client.get('flaky-1');
      return r?.state === 'running' && r.attempt === 3;
    }, { message: 'flaky-1 in its third attempt' });
    const page = await openEvents();
    // Seeded: the tasks finished while no page was open, and the one running now.
    await waitFor(async () => {
      const ids = new Set((await getJson<any>('/api/tasks/recent?limit=200')).body.tasks.map((t: { id: string }) => t.id));
      return [...seeds.map((x) => x.id), 'flaky-1'].every((id) => ids.has(id));
    }, { message: 'recent tasks seeded' });
    // A page is connected: loads are read (flaky-1 holds one assignment).
    await waitFor(async () => (await getJson<any>('/api/overview')).body.workers[0].load === 1, { message: 'w1 load 1' });
    releaseFlaky();
    expect((await c.client.wait('flaky-1', { timeoutMs: 10_000 })).state).toBe('failed');
    const want = [
      [1, 'retried', 'flaky attempt 1'],
      [2, 'retried', 'flaky attempt 2'],
      [3, 'failed', 'flaky attempt 3'],
    ];
    const mine = (fs: Array<{ id: string; attempt: number; outcome: string; message: string }>) => fs.filter((f) => f.id === 'flaky-1').map((f) => [f.attempt, f.outcome, f.message]);
    const listed = await waitFor(async () => {
      const got = mine((await getJson<any>('/api/failures?limit=50')).body.failures);
      return got.length >= 3 && got;
    }, { message: 'three failures of flaky-1' });
    expect(listed.reverse()).toEqual(want); // newest first, each attempt once with its own error
    const pushed = await waitFor(() => {
      const got = mine(page.frames.filter((f) => f.event === 'tasks').flatMap((f) => f.data.failures));
      return got.length >= 3 && got;
    }, { message: 'the page got them too' });
    expect(pushed.sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual(want);
    page.close();
    await waitFor(() => !dash.stats().feedOpen, { message: 'feed closed' });
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

  it('a ZooKeeper cut under the dashboard: pushed to the page at once, then a take-over found by the reset read is not exact', async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    // m3 takes over; the dashboard is m4's (its own master's leadership it would know exactly).
    const m3 = await c.addMaster();
    const m4 = await c.addMaster();
    const ps = await pool.open({ connectString: proxy.connectString });
    const d2 = await openDashboard({ session: ps, root: c.paths.root, master: m4, log: testLog, sampleIntervalMs: TICK_MS });
    const h2 = await startHttpServer({ port: 0, routes: d2.routes });
    const b2 = `http://127.0.0.1:${h2.port}`;
    try {
      const page = await openEvents(b2);
      const first = (await getJson<any>('/api/overview', b2)).body;
      expect(first.zookeeper).toMatchObject({ state: 'connected', downSince: null });
      const oldLeader = c.leader()!;
      expect(first.leader.epoch).toBe(oldLeader.epoch);
      const cutAt = Date.now();
      proxy.cut('close');
      // Pushed on the session's state change (no tick runs while it is down).
      const pushed = await waitFor(() => page.frames.find((f) => f.event === 'overview' && f.data.zookeeper.state !== 'connected'), { message: 'overview: zookeeper down' });
      expect(pushed.data.zookeeper.downSince).toBeGreaterThanOrEqual(cutAt);
      expect(pushed.data.zookeeper.sampledAt).toBeLessThanOrEqual(cutAt);
      // The leader leaves while the dashboard cannot see it.
      await oldLeader.stop();
      await waitFor(() => m3.isLeader, { message: 'm3 leads' });
      const healedAt = Date.now();
      proxy.heal();
      const after = await waitFor(async () => {
        const o = (await getJson<any>('/api/overview', b2)).body;
        return o.zookeeper.state === 'connected' && o.leader?.epoch === m3.epoch && o.zookeeper.sampledAt > healedAt && o;
      }, { timeoutMs: 20_000, message: 'reconnected, m3 leading, sampled again' });
      expect(after.zookeeper.downSince).toBeNull();
      // Found by the full read after the reset: it leads since the cut at the earliest, not "exactly now".
      expect(after.leader).toMatchObject({ sinceExact: false });
      expect(after.leader.since).toBeLessThan(healedAt);
      page.close();
    } finally {
      await h2.close();
      await d2.close();
      await proxy.stop();
    }
  });
});
