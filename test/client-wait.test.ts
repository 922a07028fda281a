// client.wait() at scale, on a real ZooKeeper: many waits share the client's session
// listeners and one watch per task, and still honour their own deadline, signal and the
// reconnect bound, across a lost session too.
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DroverClient, TaskNotFoundError, WaitTimeoutError } from '../client/drover-client.js';
import { InvalidConnectStringError } from '../shared/zk/connect-string.js';
import { ConnectionLossError, SessionClosedError } from '../shared/zk/errors.js';
import { ZkSession } from '../shared/zk/session.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { waitFor } from './harness/wait-for.js';
import { TEST_SESSION_MS, testLog, zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await cluster?.stop();
  cluster = undefined;
});

/** How many functions wait on `path`'s data watch in the client library's own registry. */
function dataWatchers(session: ZkSession, path: string): number {
  type Registry = { dataWatchers: Record<string, { listeners(e: string): unknown[] } | undefined> };
  const wm = (session as unknown as { client: { connectionManager: { watcherManager: Registry } } }).client.connectionManager.watcherManager;
  return wm.dataWatchers[path]?.listeners('notification').length ?? 0;
}

const listeners = (s: ZkSession) => ({ state: s.listenerCount('state'), session: s.listenerCount('session') });

function collectWarnings(): { names: string[]; stop(): void } {
  const names: string[] = [];
  const on = (w: Error) => names.push(`${w.name}: ${w.message}`);
  process.on('warning', on);
  return { names, stop: () => process.off('warning', on) };
}

/** A client whose session reaches ZooKeeper through a proxy the test can cut. */
async function proxiedClient(root: string, reconnectTimeoutMs: number) {
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const proxy = await TcpProxy.start(host!, Number(port));
  cleanups.push(() => proxy.stop());
  const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  cleanups.push(() => session.close());
  const client = await DroverClient.connect({ session, root, reconnectTimeoutMs });
  return { proxy, session, client };
}

describe('many waits', () => {
  it('200 concurrent waits share one pair of session listeners and one watch per task, and all resolve', async () => {
    cluster = await startCluster({ workers: [] });
    const { client, admin, paths } = cluster;
    const warnings = collectWarnings();
    cleanups.push(async () => warnings.stop());
    const baseline = listeners(admin);
    const subs = await client.submitMany(Array.from({ length: 200 }, (_, i) => ({ type: 'echo', id: `many-${i}`, payload: i })));
    const waits = subs.map((s) => client.wait(s.id, { timeoutMs: 60_000 }));
    // Every wait has read its task and armed its watch: they are really waiting now.
    await waitFor(() => subs.every((s) => dataWatchers(admin, paths.task(s.id)) === 1), { message: '200 watches armed' });
    const during = listeners(admin);
    expect(during.state - baseline.state).toBeLessThanOrEqual(1);
    expect(during.session - baseline.session).toBeLessThanOrEqual(1);

    await cluster.addWorker({ id: 'w1', concurrency: 32 });
    const recs = await Promise.all(waits);
    expect(recs.map((r) => [r.state, r.result])).toEqual(subs.map((_, i) => ['succeeded', i]));
    expect(listeners(admin)).toEqual(baseline);
    expect(warnings.names.filter((n) => n.includes('MaxListenersExceededWarning'))).toEqual([]);
  }, 60_000);

  it('waits on the same id share its watch; each keeps its own deadline; a missing id is TaskNotFoundError', async () => {
    cluster = await startCluster({ workers: [] });
    const { client, admin, paths } = cluster;
    const baseline = listeners(admin);
    const { id } = await client.submit({ type: 'echo', id: 'shared' });
    const a = client.wait(id);
    const b = client.wait(id, { timeoutMs: 60_000 });
    await waitFor(() => dataWatchers(admin, paths.task(id)) >= 1, { message: 'watch armed' });
    // A third wait with a short deadline times out on its own, the others go on waiting.
    const c = await client.wait(id, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(c).toBeInstanceOf(WaitTimeoutError);
    expect((c as WaitTimeoutError).state).toBe('queued');
    expect(dataWatchers(admin, paths.task(id))).toBe(1);
    await expect(client.wait('no-such-task')).rejects.toBeInstanceOf(TaskNotFoundError);

    expect(await client.cancel(id)).toEqual({ cancelled: true, state: 'cancelled' });
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra.state).toBe('cancelled');
    expect(rb.state).toBe('cancelled');
    // A finished task answers at once.
    expect((await client.wait(id, { timeoutMs: 0 })).state).toBe('cancelled');
    expect(listeners(admin)).toEqual(baseline);
  });

  it('waits sharing one AbortSignal add one abort listener and all reject when it aborts', async () => {
    cluster = await startCluster({ workers: [] });
    const { client, admin, paths } = cluster;
    const warnings = collectWarnings();
    cleanups.push(async () => warnings.stop());
    const subs = await client.submitMany(Array.from({ length: 50 }, (_, i) => ({ type: 'echo', id: `sig-${i}` })));
    const ac = new AbortController();
    const waits = subs.map((s) => client.wait(s.id, { signal: ac.signal }).catch((e: unknown) => e));
    await waitFor(() => subs.every((s) => dataWatchers(admin, paths.task(s.id)) === 1), { message: 'watches armed' });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    ac.abort(new Error('enough'));
    const errs = await Promise.all(waits);
    expect(errs.every((e) => e instanceof Error && e.message === 'enough')).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    expect(warnings.names.filter((n) => n.includes('MaxListeners'))).toEqual([]);
  });
});

describe('waits and a lost session', () => {
  it('watches are re-armed in the new session: outcomes reached while it was lost, and after, resolve the waits', async () => {
    cluster = await startCluster({ workers: [] });
    const { proxy, session, client } = await proxiedClient(cluster.paths.root, 30_000);
    const baseline = listeners(session);
    const subs = await cluster.client.submitMany(Array.from({ length: 20 }, (_, i) => ({ type: 'echo', id: `lost-${i}`, payload: i })));
    const waits = subs.map((s) => client.wait(s.id, { timeoutMs: 60_000 }));
    await waitFor(() => subs.every((s) => dataWatchers(session, cluster!.paths.task(s.id)) === 1), { message: 'watches armed' });

    proxy.cut('blackhole');
    await waitFor(() => session.state === 'expired', { timeoutMs: 4 * TEST_SESSION_MS, message: 'session given up' });
    // Half the tasks finish while the client cannot hear of it.
    const w = await cluster.addWorker({ id: 'w1', concurrency: 8 });
    await waitFor(async () => (await cluster!.client.get('lost-0'))?.state === 'succeeded', { message: 'finished while cut off' });
    await w.stop();
    const generation = session.generation;
    proxy.heal();
    await waitFor(() => session.generation > generation && session.state === 'connected', { timeoutMs: 4 * TEST_SESSION_MS, message: 'a new session' });
    await cluster.addWorker({ id: 'w2', concurrency: 8 });
    const recs = await Promise.all(waits);
    expect(recs.map((r) => r.state)).toEqual(subs.map(() => 'succeeded'));
    expect(listeners(session)).toEqual(baseline);
  }, 60_000);

  it('once the session is lost, every wait rejects with ConnectionLossError after reconnectTimeoutMs', async () => {
    cluster = await startCluster({ workers: [] });
    const { proxy, session, client } = await proxiedClient(cluster.paths.root, 1000);
    const baseline = listeners(session);
    const subs = await cluster.client.submitMany(Array.from({ length: 30 }, (_, i) => ({ type: 'echo', id: `away-${i}` })));
    const waits = subs.map((s) => client.wait(s.id).catch((e: unknown) => e));
    await waitFor(() => subs.every((s) => dataWatchers(session, cluster!.paths.task(s.id)) === 1), { message: 'watches armed' });
    proxy.cut('blackhole');
    await waitFor(() => session.state === 'expired', { timeoutMs: 4 * TEST_SESSION_MS, message: 'session given up' });
    const lostAt = Date.now();
    const errs = await Promise.all(waits);
    expect(errs.every((e) => e instanceof ConnectionLossError && e.message === 'not connected to ZooKeeper within 1000 ms')).toBe(true);
    expect(Date.now() - lostAt).toBeLessThan(3000);
    expect(listeners(session)).toEqual(baseline);
  }, 30_000);
});

describe('waits and a lost session (deadlines)', () => {
  it("a wait's own deadline holds while its session is lost: ConnectionLossError then, not after reconnectTimeoutMs", async () => {
    cluster = await startCluster({ workers: [] });
    const { proxy, session, client } = await proxiedClient(cluster.paths.root, 30_000);
    const { id } = await cluster.client.submit({ type: 'echo', id: 'deadline' });
    proxy.cut('blackhole');
    await waitFor(() => session.state === 'expired', { timeoutMs: 4 * TEST_SESSION_MS, message: 'session given up' });
    const t0 = Date.now();
    const err = await client.wait(id, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionLossError);
    expect((err as Error).message).toContain('not back by the wait');
    expect(Date.now() - t0).toBeLessThan(2000);
  }, 30_000);

  it('closing the client ends its waits with SessionClosedError', async () => {
    cluster = await startCluster({ workers: [] });
    const own = await DroverClient.connect({ connectString: zkConnect(), root: cluster.paths.root, sessionTimeoutMs: TEST_SESSION_MS });
    const subs = await own.submitMany([{ type: 'echo', id: 'c-1' }, { type: 'echo', id: 'c-2' }]);
    const waits = subs.map((s) => own.wait(s.id).catch((e: unknown) => e));
    await own.close();
    for (const e of await Promise.all(waits)) expect(e).toBeInstanceOf(SessionClosedError);
  });
});

describe('closing a client on a shared session', () => {
  it('ends its waits with SessionClosedError, takes its listeners and watches off the session, and refuses new waits', async () => {
    cluster = await startCluster({ workers: [] });
    const { admin, paths } = cluster;
    const baseline = listeners(admin);
    const client = await DroverClient.connect({ session: admin, root: paths.root });
    const subs = await client.submitMany([{ type: 'echo', id: 'sh-1' }, { type: 'echo', id: 'sh-2' }]);
    const ac = new AbortController();
    // No timeout: before, these never settled once the client was closed.
    const waits = subs.map((s, i) => client.wait(s.id, i === 0 ? {} : { signal: ac.signal }).catch((e: unknown) => e));
    await waitFor(() => subs.every((s) => dataWatchers(admin, paths.task(s.id)) === 1), { message: 'watches armed' });
    expect(listeners(admin).state).toBe(baseline.state + 1);
    await client.close();
    const errs = await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(() => r('still pending'), 2000))]);
    expect(Array.isArray(errs) && errs.every((e) => e instanceof SessionClosedError)).toBe(true);
    expect(listeners(admin)).toEqual(baseline);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    for (const s of subs) expect(dataWatchers(admin, paths.task(s.id))).toBe(0);
    await expect(client.wait(subs[0]!.id)).rejects.toBeInstanceOf(SessionClosedError);
    // The shared session is its owner's: it lives on.
    expect(admin.state).toBe('connected');
    expect((await cluster.client.get('sh-1'))?.state).toBe('queued');
  });
});

describe('connect', () => {
  it('a bad connect string is a typed error, not a crash', async () => {
    for (const cs of ['localhost:99999', 'localhost:23181x']) {
      await expect(DroverClient.connect({ connectString: cs, connectTimeoutMs: 1000 })).rejects.toBeInstanceOf(InvalidConnectStringError);
    }
  });
});
