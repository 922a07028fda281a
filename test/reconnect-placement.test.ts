// A worker that dies while the leader is cut off is still in the leader's picture when the
// connection comes back, until the resets' reads (member view, assign/) have been applied:
// no round may place on it in between (the round the reconnect kicks reads its records
// before the member view's listing is even sent).
import { afterEach, describe, expect, it } from 'vitest';
import { submitOps } from '../shared/protocol/task-ops.js';
import { newTaskRecord } from '../shared/protocol/task-record.js';
import { ZkSession } from '../shared/zk/session.js';
import { runLeadership } from './harness/leadership-run.js';
import { MemberSwarm } from './harness/member-swarm.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { readRecord } from './harness/worker-fixture.js';
import { SessionPool, freshLayout, testLog, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

describe('placement after a reconnect', () => {
  it('a worker that died during the cut gets nothing from the round kicked by the reconnect', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    // Its session expires about a second after it is killed.
    const swarm = MemberSwarm.start(zkConnect(), paths, 1000);
    stops.push(() => swarm.stop());
    const [worker] = await swarm.join(['w'], 2);
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    stops.push(() => proxy.stop());
    const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 4000, log: testLog });
    stops.push(() => session.close());
    const run = await runLeadership(session, paths);
    stops.push(() => run.stop());

    // One task placed on it: the leader knows the worker and its directory (one slot left).
    await admin.multi(submitOps(paths, newTaskRecord({ type: 'echo', id: 'first' })));
    await waitFor(async () => (await readRecord(admin, paths, 'first')).record.state === 'assigned', { message: 'the first task assigned' });
    // The next one comes due only while the leader is cut off (a retry's backoff, say): the
    // round the reconnect kicks is the first that may place it.
    const dueAt = Date.now() + 1500;
    await admin.multi(submitOps(paths, { ...newTaskRecord({ type: 'echo', id: 'late' }), notBefore: dueAt }));
    await waitFor(() => run.leadership.queueState().size === 1, { message: 'the late task indexed' });

    proxy.cut('close');
    await swarm.kill9();
    await waitFor(async () => (await admin.exists(paths.member(worker!))) === null, { message: "the killed worker's node gone" });
    await waitFor(() => Date.now() > dueAt + 50, { timeoutMs: 5000, message: 'the late task due' });
    expect(session.state).toBe('disconnected');
    proxy.heal();

    // The leader hears of the death through its resets: the directory goes, 'first' is back in the queue.
    await waitFor(async () => (await admin.exists(paths.assignDir(worker!))) === null, { timeoutMs: 15_000, message: "the dead worker's directory removed" });
    await waitFor(async () => (await readRecord(admin, paths, 'first')).record.state === 'queued', { message: 'first back in the queue' });
    const late = (await readRecord(admin, paths, 'late')).record;
    // Never assigned to the dead worker: no attempt used, none lost.
    expect(late.state).toBe('queued');
    expect(late.attempt).toBe(0);
    expect(late.lost).toBe(0);
  }, 30_000);
});
