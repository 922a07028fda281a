// What `status` says the queue waits for. Without a leader it reads a bounded sample of
// records and says so when the sample did not cover the queue (a small stuck class may lie
// beyond it), instead of printing nothing. With a leader it shows the leader's own account:
// exact counts for every class, the biggest listed, the rest counted, in one small znode.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LEADER_STATUS_MAX_CLASSES } from '../master/leader-status.js';
import { shardOf } from '../shared/protocol/paths.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { TEST_SHARDS, zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
const procs = new ProcessPool();
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});
afterAll(() => procs.killAll());

const QUEUED = 1500;
const TENANTS = 60;

describe('status: what the queue waits for', () => {
  it('says when its sample missed part of the queue; with a leader, gives the exact counts of every class', async () => {
    cluster = await startCluster({ masters: 0, workers: [{ id: 'zone-a', labels: { zone: 'a' } }] });
    const c = cluster;
    await c.client.submitMany(Array.from({ length: QUEUED }, (_, i) => ({ type: 'echo', id: `a-${i}`, labels: { zone: 'a' } })));
    // A small stuck class in the last shard: past the sample (it takes shards in order).
    const last = c.paths.shardNames.at(-1)!;
    const gpuIds: string[] = [];
    for (let i = 0; gpuIds.length < 3; i++) if (shardOf(`gpu-${i}`, TEST_SHARDS) === last) gpuIds.push(`gpu-${i}`);
    for (const id of gpuIds) await c.client.submit({ type: 'echo', id, labels: { gpu: 'yes' } });
    const of = QUEUED + gpuIds.length;

    const g = ['--zk', zkConnect(), '--root', c.paths.root];
    const sampled = JSON.parse((await procs.run(['status', '--json', ...g])).stdout);
    expect(sampled.waiting).toEqual([]);
    expect(sampled.waitingSample).toEqual({ read: 1000, of, source: 'sample' });
    expect((await procs.run(['status', ...g])).stdout).toMatch(new RegExp(`waiting: +none found in a sample of 1,000 of ${of.toLocaleString('en-US')} queued`));
    // A paused type waits for the pause, as the leader would say, though a worker takes it.
    await c.client.pause({ type: 'echo' });
    const paused = await c.client.status();
    expect(paused.waitingSample.source).toBe('sample');
    expect(paused.waiting.map((w) => [w.type, w.labels, w.reason])).toEqual([['echo', { zone: 'a' }, 'paused']]);
    await c.client.resume({ type: 'echo' });

    // More classes than the leader lists; a worker that takes none of them; and a leader (it
    // reads records only while some worker has a free slot).
    await c.client.submitMany(Array.from({ length: TENANTS }, (_, i) => ({ type: 'echo', id: `tenant-${i}`, labels: { tenant: `t${i}` } })));
    for (const w of c.workers) await w.stop();
    await c.addWorker({ id: 'zone-b', labels: { zone: 'b' } });
    await c.addMaster();
    const total = of + TENANTS;
    const s = await waitFor(() => c.client.status().then((st) => st.waitingSample.source === 'leader' && st.waitingSample.read === total && st), {
      message: "the leader's account of the whole queue",
    });
    expect(s.waitingSample).toEqual({ read: total, of: total, source: 'leader', omitted: { classes: TENANTS + 2 - LEADER_STATUS_MAX_CLASSES, tasks: TENANTS + 2 - LEADER_STATUS_MAX_CLASSES } });
    expect(s.waiting).toHaveLength(LEADER_STATUS_MAX_CLASSES);
    expect(s.waiting.slice(0, 2)).toEqual([
      { type: 'echo', labels: { zone: 'a' }, count: QUEUED, reason: 'no worker has labels zone=a' },
      { type: 'echo', labels: { gpu: 'yes' }, count: gpuIds.length, reason: 'no worker has labels gpu=yes' },
    ]);
    // One small znode.
    const { data } = await c.admin.getData(c.paths.leaderStatus);
    console.log(`[measure] leader-status znode: ${data.length} bytes for ${TENANTS + 2} classes (${LEADER_STATUS_MAX_CLASSES} listed)`);
    expect(data.length).toBeLessThan(16 * 1024);

    const text = (await procs.run(['status', ...g])).stdout;
    expect(text).toMatch(new RegExp(`waiting: +${total.toLocaleString('en-US')} queued tasks no live worker can take\\n`));
    expect(text).toMatch(/ {2}echo\tlabels gpu=yes\t3\tno worker has labels gpu=yes/);
    expect(text).toMatch(new RegExp(`… and ${TENANTS + 2 - LEADER_STATUS_MAX_CLASSES} more classes`));

    // Without a leader (its account is another epoch's): the sample again.
    for (const m of c.masters) await m.stop();
    expect((await c.client.status()).waitingSample.source).toBe('sample');
  }, 60_000);
});
