// A leadership stopped while it is still starting (deposed during its rebuild, say) ends
// there: no session listener, no retention timer, no round and no read are left behind.
import { afterEach, describe, expect, it } from 'vitest';
import { ZkSession, zkCounters } from '../shared/zk/session.js';
import { runLeadership } from './harness/leadership-run.js';
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

describe('a leadership stopped while starting', () => {
  it('stopped at once: start() ends without a session listener or a round', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const session = await pool.open();
    const listeners = session.listenerCount('state');
    const run = await runLeadership(session, paths, { start: false });
    stops.push(() => run.stop());
    const stopped = run.leadership.stop();
    await run.started;
    await stopped;
    expect(session.listenerCount('state')).toBe(listeners);
    expect(run.leadership.queueState().rounds.rounds).toBe(0);
  });

  it("stopped during the rebuild's read of assign/: nothing is read after it, no listener is left", async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const swarm = MemberSwarm.start(zkConnect(), paths);
    stops.push(() => swarm.stop());
    await swarm.join(['a', 'b'], 2);
    const proxy = await OpProxy.start(zkConnect());
    stops.push(() => proxy.stop());
    const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 4000, log: testLog });
    stops.push(() => session.close());
    const listeners = session.listenerCount('state');
    // The rebuild lists assign/ (getChildren2) and then reads every directory (multiRead).
    const held = proxy.holdFrom({ op: OP.getChildren2, contains: paths.assign });
    const run = await runLeadership(session, paths, { start: false });
    stops.push(() => run.stop());
    await held;
    const stopping = run.leadership.stop();
    const before = zkCounters.byKind.multiRead ?? 0;
    proxy.release();
    await stopping;
    await run.started;
    expect(session.listenerCount('state')).toBe(listeners);
    expect(run.leadership.queueState().rounds.rounds).toBe(0);
    // The held listing was answered; the closed reconciler read no directory after it.
    await waitFor(async () => (await session.exists(paths.assign)) !== null, { message: 'the session answers again' });
    expect((zkCounters.byKind.multiRead ?? 0) - before).toBe(0);
  });
});
