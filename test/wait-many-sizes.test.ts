// Big records in a many-task wait: the multiReads of a tree-mode wait (client/record-reads.ts)
// keep their replies under REPLY_BUDGET_BYTES when records are tens of KiB, before and after
// a real worker finishes them (echo: the result is the payload, so a finish doubles a record),
// all of them at once while the client was cut off.
import { afterEach, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { REPLY_BUDGET_BYTES } from '../client/record-reads.js';
import type { Waiters } from '../client/waiters.js';
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

/** Records the data bytes of every getDataMany reply of `session` (one request each, as the client calls it). */
function recordReplies(session: ZkSession): { bytes: number[]; stop(): void } {
  const bytes: number[] = [];
  const original = session.getDataMany;
  session.getDataMany = async function (this: ZkSession, paths, opts) {
    const results = await original.call(this, paths, opts);
    bytes.push(results.reduce((n, r) => n + (r.ok ? r.data.length : 0), 0));
    return results;
  };
  return { bytes, stop: () => (session.getDataMany = original) };
}

it('records of 40 KiB, 80 KiB once finished while the client was cut off: every multiRead reply stays under the budget, and all are answered', async () => {
  cluster = await startCluster({ workers: [] });
  const { paths } = cluster;
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const proxy = await TcpProxy.start(host!, Number(port));
  cleanups.push(() => proxy.stop());
  const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  cleanups.push(() => session.close());
  const client = await DroverClient.connect({ session, root: paths.root, recordWatchLimit: 50 });
  cleanups.push(() => client.close());
  const waiters = (client as unknown as { waiters: Waiters }).waiters;
  const replies = recordReplies(session);
  cleanups.push(async () => replies.stop());

  const N = 200;
  const payload = 'x'.repeat(40_000);
  const subs = await cluster.client.submitMany(Array.from({ length: N }, (_, i) => ({ type: 'echo', id: `big-${i}`, payload })));
  const ids = subs.map((s) => s.id);
  const all = client.waitMany(ids);
  all.catch(() => undefined);
  await waitFor(() => waiters.stats.treeArmed && waiters.stats.reading === 0, { message: 'tree watch armed, records read' });
  expect(waiters.stats.mode).toBe('tree');
  const initialReads = replies.bytes.length;

  // Every record doubles while the client hears nothing: the re-read after the reset reads
  // 200 records that all grew by 40 KiB, and the estimate must learn that before it groups them.
  proxy.cut('close');
  await cluster.addWorker({ id: 'w1', concurrency: 50 });
  await cluster.client.waitMany(ids);
  const resets = waiters.stats.resets;
  proxy.heal();
  const recs = await all;
  expect(waiters.stats.resets).toBeGreaterThan(resets);
  expect(recs.every((r) => r.state === 'succeeded' && r.result === payload)).toBe(true);
  // 200 records of ~40 KiB read once (about 12 to a request), then again at ~80 KiB.
  expect(Math.max(...replies.bytes)).toBeLessThanOrEqual(REPLY_BUDGET_BYTES);
  expect(initialReads).toBeLessThan(N / 5);
  expect(replies.bytes.length).toBeLessThan(N / 2);
  expect(replies.bytes.reduce((n, b) => n + b, 0)).toBeGreaterThan(N * 100_000);
}, 30_000);
