// A master's start() and stop() overlapping (a library user stopping a master that is still
// starting, on a session of their own): the stopped master must not go on to join the election
// and lead, out of reach of any further stop().
import { afterEach, describe, expect, it } from 'vitest';
import { Master } from '../master/master.js';
import type { ZkSession } from '../shared/zk/session.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

describe('Master start and stop', () => {
  it('a stop() while start() reads the layout ends it: stopped, no candidate, never leading', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const master = new Master({ session: await pool.open(), root: paths.root, id: 'm-early-stop', sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    stops.push(() => master.stop());
    const states: string[] = [];
    master.on('state', (s) => states.push(s));
    const started = master.start();
    await master.stop(); // before start()'s layout read has been answered
    await started;
    expect(master.state).toBe('stopped');
    expect(master.isLeader).toBe(false);
    expect(states).not.toContain('following');
    // Nothing joined: a candidate would lead this empty election within milliseconds.
    expect((await admin.getChildren(paths.election)).children).toEqual([]);
  });

  it('a stop() while start() opens its own session: stopped, and that session closed once the start ends', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const master = new Master({ connectString: zkConnect(), root: paths.root, id: 'm-own-session', sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    stops.push(() => master.stop());
    const started = master.start();
    await master.stop(); // before its session is open: nothing of ours to close yet
    await started;
    expect(master.state).toBe('stopped');
    expect((master as unknown as { session?: ZkSession }).session?.state).toBe('closed');
    expect((await admin.getChildren(paths.election)).children).toEqual([]);
  });
});
