// Waiting on very many tasks at once, on a real ZooKeeper of its own (a 1 GB heap for
// 200,000+ znodes). Before: a watch per record, 100,000 of them re-sent on a reconnect in one
// SetWatches of several MB, which the server refuses (jute.maxbuffer 1 MiB): the connection
// dropped on every try and the wait never resumed. Now past recordWatchLimit ids one watch on
// the finished index serves them all (client/done-watch.ts) and records are read in
// multiReads (client/record-reads.ts); below it, a watch per record as before.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient, TaskNotFoundError, WaitTimeoutError } from '../client/drover-client.js';
import type { Waiters } from '../client/waiters.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { Multi } from '../shared/protocol/multi.js';
import type { Paths } from '../shared/protocol/paths.js';
import { BATCH_LIMITS, cancelOps } from '../shared/protocol/task-ops.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { ZkSession, zkCounters } from '../shared/zk/session.js';
import { DEFAULT_JVM_ARGS, fourLetter, startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { waitFor } from './harness/wait-for.js';
import { testLog, uniqueRoot } from './harness/zk.js';

/** Long enough that a cut of the proxy is a reconnect in the same session, never an expiry. */
const CLIENT_SESSION_MS = 10_000;
const REASON = 'cancelled by wait-many.test';

let server: LocalZkServer;
beforeAll(async () => {
  const jvmArgs = [...DEFAULT_JVM_ARGS.filter((a) => !a.startsWith('-Xmx')), '-Xmx1g', '-Dzookeeper.forceSync=no'];
  server = await startLocalServer({ tickTimeMs: 200, jvmArgs, extraConfig: { maxSessionTimeout: 30_000 } });
}, 30_000);
afterAll(async () => {
  await server?.stop();
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function open(connectString: string): Promise<ZkSession> {
  const s = await ZkSession.open({ connectString, sessionTimeoutMs: CLIENT_SESSION_MS, log: testLog });
  cleanups.push(() => s.close());
  return s;
}

/** A submitter going direct, and the client under test behind a proxy the test can cut. */
async function setUp(opts: { shards: number; recordWatchLimit?: number }) {
  const admin = await open(server.connectString);
  const paths = await ensureLayout(admin, uniqueRoot('wm'), opts.shards);
  const submitter = await DroverClient.connect({ session: admin, root: paths.root });
  const proxy = await TcpProxy.start('127.0.0.1', server.port);
  cleanups.push(() => proxy.stop());
  const session = await open(proxy.connectString);
  const client = await DroverClient.connect({ session, root: paths.root, reconnectTimeoutMs: 30_000, recordWatchLimit: opts.recordWatchLimit });
  cleanups.push(() => client.close());
  const waiters = (client as unknown as { waiters: Waiters }).waiters;
  return { admin, paths, submitter, proxy, session, client, waiters };
}

/** Submits n tasks in batched multis, 4 submitMany calls at once (the test's set-up, kept short). */
async function submitN(submitter: DroverClient, prefix: string, n: number): Promise<TaskRecord[]> {
  const part = Math.ceil(n / 4);
  const parts = await Promise.all(
    [0, 1, 2, 3].map((p) =>
      submitter.submitMany(Array.from({ length: Math.max(0, Math.min(part, n - p * part)) }, (_, i) => ({ type: 'echo', id: `${prefix}-${p * part + i}` }))),
    ),
  );
  return parts.flat().map((s) => s.record);
}

/**
 * Cancels queued tasks (each just submitted: record version 0) through the protocol's own
 * cancel ops, many per multi as submit batches them, a few multis in flight. Returns the
 * requests it sent (to tell them from the client's in the process-wide counters).
 */
async function cancelAll(session: ZkSession, paths: Paths, recs: readonly TaskRecord[]): Promise<number> {
  const now = Date.now();
  const multis: Multi[] = [];
  let m = new Multi(paths);
  recs.forEach((record, i) => {
    const { ops } = cancelOps(paths, { record, version: 0 }, REASON, now);
    if (m.items >= BATCH_LIMITS.maxItems || !m.fits(ops, BATCH_LIMITS.maxBytes)) {
      multis.push(m);
      m = new Multi(paths);
    }
    m.add(i, ops);
  });
  if (m.items > 0) multis.push(m);
  let next = 0;
  const lane = async () => {
    while (next < multis.length) {
      const v = await multis[next++]!.send(session);
      if (v.kind !== 'committed') throw new Error(`cancel batch refused: ${v.kind} ${v.error.message}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  return multis.length;
}

/** Watches the server holds for all its sessions (`wchs`: "Total watches:N"). */
async function serverWatches(): Promise<number> {
  const reply = await fourLetter('127.0.0.1', server.port, 'wchs');
  const m = reply?.match(/Total watches:\s*(\d+)/);
  if (!m) throw new Error(`wchs: ${reply}`);
  return Number(m[1]);
}

const requests = () => zkCounters.requests;

/** Cuts every connection of the proxy and heals it: a reconnect within the same session. */
async function reconnect(proxy: TcpProxy, session: ZkSession): Promise<void> {
  const id = session.sessionId;
  const generation = session.generation;
  proxy.cut('close');
  await waitFor(() => session.state === 'disconnected', { message: 'client disconnected' });
  proxy.heal();
  await waitFor(() => session.state === 'connected', { timeoutMs: CLIENT_SESSION_MS, message: 'client reconnected' });
  expect(session.sessionId).toBe(id);
  expect(session.generation).toBe(generation);
}

describe('waiting on many tasks', () => {
  it('100,000 waits share one watch on the finished index, survive a reconnect in the session, and every outcome arrives', async () => {
    const N = 100_000;
    const { admin, paths, submitter, proxy, session, client, waiters } = await setUp({ shards: 64 });
    const tSubmit = Date.now();
    const recs = await submitN(submitter, 'big', N);
    console.log(`[wait-many] ${N} submitted in ${Date.now() - tSubmit} ms`);
    const ids = recs.map((r) => r.id);

    const r0 = requests();
    const t0 = Date.now();
    const all = client.waitMany(ids);
    all.catch(() => undefined);
    await waitFor(() => waiters.stats.treeArmed && waiters.stats.resets >= 1 && waiters.stats.reading === 0, {
      timeoutMs: 30_000,
      message: 'tree watch armed and every record read once',
    });
    const armedMs = Date.now() - t0;
    const initial = requests() - r0;
    expect(waiters.stats.mode).toBe('tree');
    expect(waiters.watchedIds).toBe(N);
    // One watch for all of them on the server, not one per record (plus the submitter's none).
    expect(await serverWatches()).toBeLessThan(10);

    const resetsBefore = waiters.stats.resets;
    const r1 = requests();
    await reconnect(proxy, session);
    await waitFor(() => waiters.stats.resets > resetsBefore && waiters.stats.reading === 0, {
      timeoutMs: 30_000,
      message: 'tree watch re-armed and every pending record read again',
    });
    const afterReconnect = requests() - r1;

    const r2 = requests();
    const t2 = Date.now();
    const cancelRequests = await cancelAll(admin, paths, recs);
    const cancelMs = Date.now() - t2;
    const outcomes = await all;
    const finishMs = Date.now() - t2;
    const finishing = requests() - r2 - cancelRequests;

    expect(outcomes.map((r) => r.id)).toEqual(ids);
    expect(outcomes.every((r) => r.state === 'cancelled' && r.error?.message === REASON)).toBe(true);
    expect(waiters.watchedIds).toBe(0);
    expect(waiters.stats.mode).toBe('records');
    // A watch per record would be at least a request per task.
    const total = initial + afterReconnect + finishing;
    expect(total).toBeLessThan(N / 20);
    console.log(
      `[wait-many] ${N} waits: armed and read in ${armedMs} ms (${initial} requests); reconnect: ${afterReconnect} requests; ` +
        `${N} cancels (${cancelRequests} multis, committed in ${cancelMs} ms) all answered in ${finishMs} ms (${finishing} client requests); ` +
        `client total ${total} requests (${(total / N).toFixed(4)} per task)`,
    );
  }, 120_000);

  it('30,000 waits with a watch per record (recordWatchLimit: Infinity) resume after a reconnect (a SetWatches over 1 MiB before)', async () => {
    const N = 30_000;
    const { admin, paths, submitter, proxy, session, client, waiters } = await setUp({ shards: 16, recordWatchLimit: Infinity });
    let t = Date.now();
    const lap = () => -t + (t = Date.now());
    const recs = await submitN(submitter, 'rec', N);
    const submitMs = lap();
    const all = client.waitMany(recs.map((r) => r.id));
    all.catch(() => undefined);
    await waitFor(() => waiters.stats.reading === 0 && waiters.watchedIds === N, { timeoutMs: 30_000, message: 'every record read and watched' });
    const readMs = lap();
    expect(waiters.stats.mode).toBe('records');
    expect(await serverWatches()).toBeGreaterThanOrEqual(N);
    await reconnect(proxy, session);
    // The watches are back on the server (re-sent by the library in SetWatches requests).
    await waitFor(async () => (await serverWatches()) >= N, { timeoutMs: 15_000, message: 'watches re-set' });
    const rewatchMs = lap();
    await cancelAll(admin, paths, recs);
    const cancelMs = lap();
    const outcomes = await all;
    expect(outcomes.every((r) => r.state === 'cancelled')).toBe(true);
    console.log(`[wait-many] ${N} record watches: submit ${submitMs} ms, read ${readMs} ms, reconnect ${rewatchMs} ms, cancel ${cancelMs} ms, answered ${lap()} ms later`);
  }, 90_000);
});

describe('records and tree modes', () => {
  it('past the limit one tree watch; a missing id and a deadline answer as before; few left, a watch per record again', async () => {
    const { admin, paths, submitter, session, client, waiters } = await setUp({ shards: 8, recordWatchLimit: 100 });
    const baseline = { state: session.listenerCount('state'), session: session.listenerCount('session') };
    const recs = await submitN(submitter, 'mode', 300);
    const waits = recs.map((r) => client.wait(r.id));
    for (const w of waits) w.catch(() => undefined);
    await waitFor(() => waiters.stats.treeArmed && waiters.stats.reading === 0, { message: 'tree watch armed' });
    expect(waiters.stats.mode).toBe('tree');
    await expect(client.wait('no-such-task')).rejects.toBeInstanceOf(TaskNotFoundError);
    const late = await client.wait(recs[0]!.id, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(WaitTimeoutError);
    expect((late as WaitTimeoutError).state).toBe('queued');

    // 291 finish: 9 left, under a tenth of the limit: back to a watch per record.
    await cancelAll(admin, paths, recs.slice(0, 291));
    const first = await Promise.all(waits.slice(0, 291));
    expect(first.every((r) => r.state === 'cancelled')).toBe(true);
    await waitFor(() => waiters.stats.mode === 'records' && waiters.stats.reading === 0, { message: 'records mode again' });
    expect(await serverWatches()).toBeGreaterThanOrEqual(9);

    await cancelAll(admin, paths, recs.slice(291));
    const rest = await Promise.all(waits.slice(291));
    expect(rest.map((r) => r.state)).toEqual(Array(9).fill('cancelled'));
    expect(waiters.watchedIds).toBe(0);
    expect({ state: session.listenerCount('state'), session: session.listenerCount('session') }).toEqual(baseline);
  }, 30_000);
});
