// An assign whose outcome the leader did not learn (its multi reached the server late, after
// the request's deadline) must still take its worker's slots once its events come: the next
// round, whose reads follow the late multi on the same connection, must not place more on
// that worker than its capacity.
import { afterEach, describe, expect, it } from 'vitest';
import { submitOps } from '../shared/protocol/task-ops.js';
import { newTaskRecord } from '../shared/protocol/task-record.js';
import { ZkSession } from '../shared/zk/session.js';
import { runLeadership } from './harness/leadership-run.js';
import { MemberSwarm } from './harness/member-swarm.js';
import { OP, OpProxy } from './harness/op-proxy.js';
import { readRecord } from './harness/worker-fixture.js';
import { SessionPool, freshLayout, testLog, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

const CAPACITY = 4;
const TASKS = 8;

describe('an assign whose outcome is unknown', () => {
  it('its late assignments count in the load of the next round, which places nothing over capacity', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const swarm = MemberSwarm.start(zkConnect(), paths, 4000);
    stops.push(() => swarm.stop());
    const [worker] = await swarm.join(['w'], CAPACITY);
    const ids = Array.from({ length: TASKS }, (_, i) => `t${i}`);
    for (const id of ids) await admin.multi(submitOps(paths, newTaskRecord({ type: 'echo', id })));

    const proxy = await OpProxy.start(zkConnect());
    stops.push(() => proxy.stop());
    // A request deadline well inside the watchdog's silence limit (2/3 of 4 s): the held
    // multi times out (unknown) while the connection lives on.
    const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 4000, requestTimeoutMs: 1000, log: testLog });
    stops.push(() => session.close());
    const held = proxy.holdFrom({ op: OP.multi, contains: `${paths.assign}/` });
    const run = await runLeadership(session, paths);
    stops.push(() => run.stop());

    // Round 1's assign multi is held; it times out, the next round reads again: once that
    // read is held behind it, both go to the server, the multi first.
    await held;
    await waitFor(() => proxy.heldCount(OP.multiRead) > 0, { timeoutMs: 10_000, intervalMs: 10, message: "the next round's read held behind the late multi" });
    const roundsAtRelease = run.leadership.queueState().rounds.rounds;
    proxy.release();

    // The late multi applied; the round running at the release has ended (another began since).
    await waitFor(async () => (await admin.getChildren(paths.assignDir(worker!))).children.length > 0, { message: 'the late assign applied' });
    await waitFor(() => run.leadership.queueState().rounds.rounds > roundsAtRelease, { message: 'the round after the release ended' });
    const holding = (await admin.getChildren(paths.assignDir(worker!))).children;
    expect(holding.length).toBeLessThanOrEqual(CAPACITY);
    // What is not held is still queued: nothing was placed elsewhere or lost.
    const states = await Promise.all(ids.map(async (id) => (await readRecord(admin, paths, id)).record.state));
    expect(states.filter((s) => s === 'assigned').length).toBe(holding.length);
    expect(states.filter((s) => s === 'queued').length).toBe(TASKS - holding.length);
  }, 30_000);
});
