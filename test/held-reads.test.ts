// The leader's reads of assignment nodes keep every reply under 512 KiB whatever the nodes
// hold: a worker may have written progress over each (capped like a result, 64 KiB by
// default), so a node not known to be as a leader wrote it counts at that cap. Nodes the
// leader saw created and never changed are read many per request.
import { afterEach, describe, expect, it } from 'vitest';
import { assignOps, queueEntryOf, submitOps } from '../shared/protocol/task-ops.js';
import { newTaskRecord } from '../shared/protocol/task-record.js';
import { LeaderStage } from './harness/leader-stage.js';
import { MemberSwarm } from './harness/member-swarm.js';
import { countReads } from './harness/worker-read-tools.js';
import { submitAndAssignTo } from './harness/worker-fixture.js';
import { SessionPool, freshLayout, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

const MAX_REPLY = 512 * 1024;

describe("the leader's assignment reads", () => {
  it('40 assignments with 60 KiB of progress each: a takeover reads them all, no reply over 512 KiB', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const swarm = MemberSwarm.start(zkConnect(), paths);
    stops.push(() => swarm.stop());
    const [worker] = await swarm.join(['w'], 64);
    const held = await submitAndAssignTo(admin, paths, worker!, Array.from({ length: 40 }, (_, i) => ({ type: 'echo', id: `p${i}`, timeoutMs: 60_000 })));
    // Progress written over each, as a worker's ProgressWriter does (its data, then progress).
    for (const { record } of held) {
      const node = paths.assignment(worker!, record.id, 1);
      const base = JSON.parse((await admin.getData(node)).data.toString('utf8')) as object;
      await admin.setData(node, Buffer.from(JSON.stringify({ ...base, progress: 'x'.repeat(60 * 1024), progressAt: Date.now() })));
    }

    const session = await pool.open();
    const reads = countReads(session);
    const stage = await LeaderStage.start(session, paths);
    stops.push(() => stage.stop());
    expect(stage.reconciler.heldCount()).toBe(40);
    expect(stage.reconciler.earliestDeadline()).not.toBeNull();
    console.log(`[measure] takeover of 40 assignments of ~60 KiB: ${reads.sent} multiReads, biggest reply ${Math.round(reads.maxReplyDataBytes / 1024)} KiB`);
    expect(reads.maxReplyDataBytes).toBeLessThanOrEqual(MAX_REPLY);
  });

  it('assignments seen created (not by this leader) and never changed are read many per request', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const swarm = MemberSwarm.start(zkConnect(), paths);
    stops.push(() => swarm.stop());
    const [worker] = await swarm.join(['w'], 1000);
    const session = await pool.open();
    const stage = await LeaderStage.start(session, paths);
    stops.push(() => stage.stop());
    await stage.settle();
    const reads = countReads(session);
    // 300 assignments made by another leader, in few multis: the mirror learns them by events.
    const recs = Array.from({ length: 300 }, (_, i) => newTaskRecord({ type: 'echo', id: `u${i}`, timeoutMs: 60_000 }));
    for (let i = 0; i < recs.length; i += 50) {
      const ops = recs.slice(i, i + 50).flatMap((r) => [...submitOps(paths, r), ...assignOps(paths, { record: r, version: 0 }, queueEntryOf(paths, r), worker!, 1, Date.now(), 5000).ops]);
      await admin.multi(ops);
    }
    await waitFor(() => stage.reconciler.heldCount() === 300, { message: '300 unread assignments read' });
    // One per request would be 300; at the cap, 50.
    console.log(`[measure] 300 assignments seen created: ${reads.sent} multiReads`);
    expect(reads.sent).toBeLessThanOrEqual(12);
    expect(stage.reconciler.load(worker!)).toBe(300);
  });
});
