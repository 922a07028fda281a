// A deadline take-back counts against maxAttempts only when the leader watched the deadline
// pass while connected. One that passed while the leader was cut off from ZooKeeper, or that
// an earlier leader set, first gets a grace from now: meanwhile the attempt's worker may turn
// out gone (it gave up its session in the same outage), and that loss is not counted.
//
// The worker here is a registration that marks its attempt running and then does nothing (it
// holds the attempt, as a worker stuck in an outage does), then gives up its session, as the
// outage's worker does. (A reclaim of an attempt that never started is uncounted anyway.)
import { afterEach, describe, expect, it } from 'vitest';
import { readTask } from '../shared/protocol/task-store.js';
import { start } from '../shared/protocol/transitions.js';
import { ZkSession } from '../shared/zk/session.js';
import { WorkerRegistration } from '../worker/registration.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { waitFor } from './harness/wait-for.js';
import { TEST_SESSION_MS, testLog, zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

const GRACE_MS = 1000;
const TIMEOUT_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(connectString = zkConnect(), sessionTimeoutMs = TEST_SESSION_MS): Promise<ZkSession> {
  const s = await ZkSession.open({ connectString, sessionTimeoutMs, log: testLog });
  cleanups.push(() => s.close());
  return s;
}

/** A member that takes `pin=x` tasks and never runs them. */
async function holder(c: TestCluster): Promise<{ session: ZkSession; name: string }> {
  const session = await open();
  const reg = new WorkerRegistration(session, c.paths, { id: 'holder', capacity: 1, labels: { pin: 'x' }, types: ['echo'] }, testLog);
  const name = await reg.register();
  await reg.setState('alive');
  return { session, name };
}

async function submitHeld(c: TestCluster, h: { session: ZkSession; name: string }): Promise<string> {
  const { id } = await c.client.submit({ type: 'echo', payload: 'p', labels: { pin: 'x' }, timeoutMs: TIMEOUT_MS, maxAttempts: 1 });
  await waitFor(() => c.client.get(id).then((r) => r?.state === 'assigned' && r.worker === h.name), { message: 'assigned to the holder' });
  const r = await readTask(h.session, c.paths, id);
  if (r.kind !== 'ok') throw new Error(`record ${r.kind}`);
  expect((await start({ session: h.session, paths: c.paths }, { record: r.record, version: r.version })).kind).toBe('committed');
  return id;
}

/** The holder gives up its session (within the grace); a real pin=x worker runs the retry. */
async function holderGoes(c: TestCluster, id: string, session: ZkSession) {
  await sleep(GRACE_MS / 3);
  expect((await c.client.get(id))?.state).toBe('running'); // not taken back as timeout at once
  await session.close();
  await c.addWorker({ id: 'runner', labels: { pin: 'x' } });
  const rec = await c.client.wait(id, { timeoutMs: 10_000 });
  console.log(`[measure] outcome: ${rec.state}, attempt ${rec.attempt}, lost ${rec.lost}${rec.error ? `, error ${rec.error.kind}` : ''}`);
  return rec;
}

describe('deadline take-backs after an outage', () => {
  it("a deadline that passed while the leader was cut off is not a counted timeout at reconnect", async () => {
    cluster = await startCluster({ masters: 0 });
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    cleanups.push(() => proxy.stop());
    // 4 s (the most this server grants): the cut below stays within it, so the leader's session lives.
    const leaderSession = await open(proxy.connectString, 4000);
    await cluster.addMaster({ session: leaderSession, timeoutGraceMs: GRACE_MS });
    const h = await holder(cluster);
    const id = await submitHeld(cluster, h);
    // Cut the leader past the attempt's deadline (timeout + grace), within its session timeout.
    const sessionId = leaderSession.sessionId;
    proxy.cut('blackhole');
    await sleep(TIMEOUT_MS + GRACE_MS + 1200);
    let reconnected = 0;
    leaderSession.on('state', (s) => {
      if (s === 'connected') reconnected = Date.now();
    });
    proxy.heal();
    await waitFor(() => reconnected, { message: 'leader reconnected' });
    expect(leaderSession.sessionId).toBe(sessionId); // same session: this leader, not a rebuild
    expect(cluster.leader()).toBeDefined();
    const rec = await holderGoes(cluster, id, h.session);
    expect(rec).toMatchObject({ state: 'succeeded', attempt: 2, lost: 1 });
  }, 30_000);

  it("an earlier leader's deadline, passed before this leader took over, is not a counted timeout at its first round", async () => {
    cluster = await startCluster({ masters: 1 });
    const h = await holder(cluster);
    const id = await submitHeld(cluster, h);
    await cluster.masters[0]!.stop();
    await sleep(TIMEOUT_MS + GRACE_MS + 300);
    await cluster.addMaster({ id: 'm2' });
    await waitFor(() => cluster!.leader()?.isLeader, { message: 'm2 leads' });
    const rec = await holderGoes(cluster, id, h.session);
    expect(rec).toMatchObject({ state: 'succeeded', attempt: 2, lost: 1 });
  }, 30_000);
});
