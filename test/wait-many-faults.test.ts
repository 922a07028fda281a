// Tree-mode waits (one watch on the finished index, past recordWatchLimit ids) under the same
// faults as client-wait.test.ts's per-record waits: a lost session (the watch re-added in the
// new one, finishes of the gap found by its reset), ZooKeeper away for longer than
// reconnectTimeoutMs, and closing a client on a shared session.
import { afterEach, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import type { Waiters } from '../client/waiters.js';
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

const LIMIT = 20;
const listeners = (s: ZkSession) => ({ state: s.listenerCount('state'), session: s.listenerCount('session') });
const waitersOf = (c: DroverClient) => (c as unknown as { waiters: Waiters }).waiters;

/** A tree-mode client whose session reaches ZooKeeper through a proxy the test can cut. */
async function proxiedClient(root: string, reconnectTimeoutMs: number) {
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const proxy = await TcpProxy.start(host!, Number(port));
  cleanups.push(() => proxy.stop());
  const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  cleanups.push(() => session.close());
  const client = await DroverClient.connect({ session, root, reconnectTimeoutMs, recordWatchLimit: LIMIT });
  cleanups.push(() => client.close());
  return { proxy, session, client, waiters: waitersOf(client) };
}

const armed = (w: Waiters) => w.stats.mode === 'tree' && w.stats.treeArmed && w.stats.reading === 0;

describe('tree-mode waits and a lost session', () => {
  it('the tree watch is re-added in the new session: outcomes reached while it was lost, and after, resolve the waits', async () => {
    cluster = await startCluster({ workers: [] });
    const { proxy, session, client, waiters } = await proxiedClient(cluster.paths.root, 30_000);
    const baseline = listeners(session);
    const subs = await cluster.client.submitMany(Array.from({ length: 60 }, (_, i) => ({ type: 'echo', id: `lost-${i}`, payload: i })));
    const all = client.waitMany(subs.map((s) => s.id), { timeoutMs: 60_000 });
    all.catch(() => undefined);
    await waitFor(() => armed(waiters), { message: 'tree watch armed' });

    proxy.cut('blackhole');
    await waitFor(() => session.state === 'expired', { timeoutMs: 4 * TEST_SESSION_MS, message: 'session given up' });
    // Some tasks finish while the client cannot hear of it.
    const w = await cluster.addWorker({ id: 'w1', concurrency: 8 });
    await waitFor(async () => (await cluster!.client.get('lost-0'))?.state === 'succeeded', { message: 'finished while cut off' });
    await w.stop();
    const generation = session.generation;
    const resets = waiters.stats.resets;
    proxy.heal();
    await waitFor(() => session.generation > generation && session.state === 'connected', { timeoutMs: 4 * TEST_SESSION_MS, message: 'a new session' });
    await waitFor(() => waiters.stats.resets > resets, { message: 'tree watch re-added in the new session' });
    await cluster.addWorker({ id: 'w2', concurrency: 8 });
    const recs = await all;
    expect(recs.map((r) => [r.state, r.result])).toEqual(subs.map((_, i) => ['succeeded', i]));
    expect(listeners(session)).toEqual(baseline);
    expect(waiters.stats.mode).toBe('records');
  }, 60_000);

  it('once the session is lost, every tree-mode wait rejects with ConnectionLossError after reconnectTimeoutMs', async () => {
    cluster = await startCluster({ workers: [] });
    const { proxy, session, client, waiters } = await proxiedClient(cluster.paths.root, 1000);
    const baseline = listeners(session);
    const subs = await cluster.client.submitMany(Array.from({ length: 50 }, (_, i) => ({ type: 'echo', id: `away-${i}` })));
    const waits = subs.map((s) => client.wait(s.id).catch((e: unknown) => e));
    await waitFor(() => armed(waiters), { message: 'tree watch armed' });
    proxy.cut('blackhole');
    await waitFor(() => session.state === 'expired', { timeoutMs: 4 * TEST_SESSION_MS, message: 'session given up' });
    const lostAt = Date.now();
    const errs = await Promise.all(waits);
    expect(errs.every((e) => e instanceof ConnectionLossError && e.message === 'not connected to ZooKeeper within 1000 ms')).toBe(true);
    expect(Date.now() - lostAt).toBeLessThan(3000);
    expect(listeners(session)).toEqual(baseline);
    expect(waiters.stats.mode).toBe('records');
  }, 30_000);
});

describe('closing a tree-mode client on a shared session', () => {
  it('ends its waits with SessionClosedError, takes its listeners and its tree watch off, and refuses new waits', async () => {
    cluster = await startCluster({ workers: [] });
    const { admin, paths } = cluster;
    const baseline = listeners(admin);
    const client = await DroverClient.connect({ session: admin, root: paths.root, recordWatchLimit: LIMIT });
    const waiters = waitersOf(client);
    const subs = await client.submitMany(Array.from({ length: 40 }, (_, i) => ({ type: 'echo', id: `sh-${i}` })));
    const waits = subs.map((s) => client.wait(s.id).catch((e: unknown) => e));
    await waitFor(() => armed(waiters), { message: 'tree watch armed' });
    await client.close();
    const errs = await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(() => r('still pending'), 2000))]);
    expect(Array.isArray(errs) && errs.every((e) => e instanceof SessionClosedError)).toBe(true);
    expect(listeners(admin)).toEqual(baseline);
    expect(waiters.stats).toMatchObject({ mode: 'records', treeArmed: false });
    await expect(client.wait(subs[0]!.id)).rejects.toBeInstanceOf(SessionClosedError);
    // The shared session lives on, and finishes after the close reach nobody.
    expect(admin.state).toBe('connected');
    expect(await cluster.client.cancel('sh-0')).toEqual({ cancelled: true, state: 'cancelled' });
  });
});
