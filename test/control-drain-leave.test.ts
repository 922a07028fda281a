// How a drained worker leaves, against a real ZooKeeper: the drain request goes before its
// member node (so `drain --wait && drover worker --id same` never finds it); a request is kept
// while another member of the id lives (a second process, which may have missed it); and
// waitWorkerGone with drain()'s processes waits for a member one of them registered again
// after a real session expiry (the same process, still draining), not just for the names asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drain, waitWorkerGone } from '../client/control.js';
import { requestDrain, removeDrain } from '../shared/protocol/control.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { TreeEvent } from '../shared/zk/tree-watch.js';
import type { ZkSession } from '../shared/zk/session.js';
import { WorkerRegistration } from '../worker/registration.js';
import { Worker } from '../worker/worker.js';
import { proxiedSession } from './harness/proxied-session.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, waitForState } from './harness/zk.js';

const pool = new SessionPool();
const cleanups: Array<() => Promise<void>> = [];
let s: ZkSession;
let paths: Paths;

beforeAll(async () => {
  s = await pool.open();
  paths = await freshLayout(s);
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await pool.closeAll();
});

async function startWorker(id: string): Promise<Worker> {
  const w = new Worker({ session: await pool.open(), root: paths.root, id, sessionTimeoutMs: TEST_SESSION_MS, gracePeriodMs: 1000, log: testLog, handlers: { b: () => 'b' } });
  cleanups.push(() => w.stop());
  await w.start();
  return w;
}

/** A bare member of `id` (no drain watch: it never sees a request), alive. */
async function bareMember(id: string, session?: ZkSession): Promise<WorkerRegistration> {
  const reg = new WorkerRegistration(session ?? (await pool.open()), paths, { id, capacity: 1 }, testLog);
  cleanups.push(() => reg.close());
  await reg.register();
  await reg.setState('alive');
  return reg;
}

describe('a drained worker leaving', () => {
  it('removes the request before its member node goes (in that order, as ZooKeeper committed them)', async () => {
    const w = await startWorker('dl1');
    const member = w.memberName!;
    const seen: TreeEvent[] = [];
    const watch = await s.watchTree(paths.root, (e) => e.type === 'deleted' && seen.push(e), () => undefined);
    cleanups.push(() => watch.close());
    await drain(s, paths, 'dl1');
    await w.whenStopped;
    const request = paths.drainRequest('dl1');
    const gone = paths.member(member);
    await waitFor(() => seen.some((e) => e.path === request) && seen.some((e) => e.path === gone), { message: 'both deletions seen' });
    const order = seen.map((e) => e.path).filter((p) => p === request || p === gone);
    expect(order).toEqual([request, gone]);
  });

  it('keeps a request while another member of its id lives; the last one to leave removes it', async () => {
    const other = await bareMember('dl2');
    const w = await startWorker('dl2');
    expect(await requestDrain(s, paths, 'dl2')).toBe(true);
    await w.whenStopped;
    expect(await s.exists(paths.member(w.memberName!))).toBeNull();
    // Still asked: the bare member (which never saw it) is alive.
    expect(await s.exists(paths.drainRequest('dl2'))).not.toBeNull();
    await other.close();
    // A later start of the id, alone now: drains at once and removes it as it leaves.
    const again = await startWorker('dl2');
    await again.whenStopped;
    expect(await s.exists(paths.drainRequest('dl2'))).toBeNull();
  });

  it("drain --wait's waiter: a member re-registered by the same process after a real session expiry is waited for; a fresh process of the id is not", async () => {
    // The member's session expires (2 s, cut 4 s); the waiter's (10 s) only loses its
    // connection, and comes back after the re-registration: its next listing must not call
    // the draining process gone because its member name changed.
    const member = await proxiedSession(TEST_SESSION_MS, cleanups);
    const waiter = await proxiedSession(10_000, cleanups);
    const reg = await bareMember('dl3', member.session);
    const first = reg.memberName!;
    const r = await drain(s, paths, 'dl3');
    expect(r.members).toEqual([first]);
    expect(r.processes).toEqual([{ host: expect.any(String), pid: process.pid, since: expect.any(Number) }]);
    let left = false;
    const byProcess = waitWorkerGone(waiter.session, paths, 'dl3', { members: r.members, processes: r.processes, reconnectTimeoutMs: 30_000 }).then(() => (left = true));
    await s.getChildren(paths.workers); // the waiter's first listing has gone out
    member.proxy.cut('close');
    waiter.proxy.cut('close');
    await waitForState(member.session, 'expired');
    await waitFor(async () => (await s.exists(paths.member(first))) === null, { message: 'the old member node gone with its session' });
    member.proxy.heal();
    await waitFor(() => reg.memberName !== first && reg.memberName !== null, { timeoutMs: 15_000, message: 're-registered' });
    await waitFor(async () => (await s.exists(paths.member(reg.memberName!))) !== null, { message: 'the new member node' });
    waiter.proxy.heal();
    await waitForState(waiter.session, 'connected');
    // Round trips on the waiter's session after its reconnect: they come after its listing and the read of the new member.
    for (let i = 0; i < 3; i++) await waiter.session.getChildren(paths.workers);
    expect(left).toBe(false);
    // A fresh registration of the id (another `since`: a supervisor's restart) is not waited for.
    const fresh = await bareMember('dl3');
    await reg.close();
    await byProcess;
    expect(await s.exists(paths.member(fresh.memberName!))).not.toBeNull();
    await fresh.close();
    await removeDrain(s, paths, 'dl3');
  }, 20_000);
});
