// A task record that does not parse, behind a live worker's assignment, is failed by the
// leader (in the multi that removes the assignment). When the record moves between the
// leader's read and that multi (refused: the record's version), the assignment is still
// there: the leader must neither forget it (its slot would look free, the task would never
// end) nor give up on it; it reads the record again and fails it then.
import { afterEach, describe, expect, it } from 'vitest';
import { readTask } from '../shared/protocol/task-store.js';
import { ZkSession } from '../shared/zk/session.js';
import { LeaderStage } from './harness/leader-stage.js';
import { MemberSwarm } from './harness/member-swarm.js';
import { OP, OpProxy } from './harness/op-proxy.js';
import { SessionPool, freshLayout, testLog, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

describe('a malformed record behind an assignment', () => {
  it('that moves while the leader fails it: still counted, read again, failed', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const swarm = MemberSwarm.start(zkConnect(), paths);
    stops.push(() => swarm.stop());
    const [worker] = await swarm.join(['w'], 2);
    const assignment = paths.assignment(worker!, 'bad', 1);
    await admin.create(paths.task('bad'), Buffer.from('{not json'));
    await admin.create(assignment, Buffer.from(JSON.stringify({ attempt: 1, epoch: 0, assignedAt: Date.now(), deadline: null })));

    const proxy = await OpProxy.start(zkConnect());
    stops.push(() => proxy.stop());
    const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 4000, log: testLog });
    stops.push(() => session.close());
    // The takeover's verification reads the record and sends the fail: that multi is held
    // while the record is written again (still malformed, a new version).
    const held = proxy.holdFrom({ op: OP.multi, contains: assignment });
    const starting = LeaderStage.start(session, paths);
    starting.then((s) => stops.push(() => s.stop())).catch(() => undefined);
    await held;
    await admin.setData(paths.task('bad'), Buffer.from('{still not json'));
    proxy.release();
    const stage = await starting;

    // The first fail was refused (the record's version); the leader read it again and failed it.
    await waitFor(async () => (await admin.exists(assignment)) === null, { message: 'the assignment removed' });
    const r = await readTask(admin, paths, 'bad');
    expect(r.kind === 'ok' && r.record.state).toBe('failed');
    expect(r.kind === 'ok' && r.record.error?.kind).toBe('malformed');
    await stage.settle();
    expect(stage.reconciler.load(worker!)).toBe(0);
  });
});
