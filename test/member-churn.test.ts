// The leader's members and assignment directories on tree watches: 500 worker sessions (in
// child processes, so this process's zkCounters count only the leader's side) join, 100 are
// killed, some leave, new ones join, and the picture follows at a cost of O(churn) requests,
// never a re-read of every member; a finish frees its slot with no listing; members and
// assignments that changed while the leader was cut off are seen after its reconnect.
import { afterEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { assignOps, queueEntryOf, submitOps } from '../shared/protocol/task-ops.js';
import { newTaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { zkCounters, type ZkSession } from '../shared/zk/session.js';
import { ASSIGNMENT_MAX_BYTES, REPLY_BUDGET_BYTES } from '../master/held-reads.js';
import { LeaderStage } from './harness/leader-stage.js';
import { MemberSwarm } from './harness/member-swarm.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { submitAndAssignTo } from './harness/worker-fixture.js';
import { SessionPool, freshLayout, waitForState, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

type Counts = { requests: number; reads: number; byKind: Record<string, number> };
const snapshot = (): Counts => ({ requests: zkCounters.requests, reads: zkCounters.reads, byKind: { ...zkCounters.byKind } });
function since(base: Counts): Counts {
  const byKind: Record<string, number> = {};
  for (const [k, v] of Object.entries(zkCounters.byKind)) if (v !== (base.byKind[k] ?? 0)) byKind[k] = v - (base.byKind[k] ?? 0);
  delete byKind.ping;
  return { requests: zkCounters.requests - base.requests, reads: zkCounters.reads - base.reads, byKind };
}

/** Plain listings (the library sends getChildren as getChildren2); a getChildrenMany is a multiRead. */
const listings = (c: Counts) => (c.byKind.getChildren ?? 0) + (c.byKind.getChildren2 ?? 0);

function swarm(paths: Paths, sessionTimeoutMs = 2000): MemberSwarm {
  const s = MemberSwarm.start(zkConnect(), paths, sessionTimeoutMs);
  stops.push(() => s.stop());
  return s;
}
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/**
 * Reconnects of `session` from now on: each is a reset (the tree watches' onReset), which
 * rightly reads the whole group again. A loaded machine can stall a session into one.
 */
function reconnects(session: ZkSession): () => number {
  let n = 0;
  const on = (s: string) => void (s === 'connected' && n++);
  session.on('state', on);
  stops.push(async () => void session.off('state', on));
  return () => n;
}

async function leader(session: ZkSession, paths: Paths): Promise<LeaderStage> {
  const stage = await LeaderStage.start(session, paths);
  stops.push(() => stage.stop());
  return stage;
}

/** The picture is exactly `live`: the view, the known directories, and (ZooKeeper's side) no other directory left. */
async function pictureIs(stage: LeaderStage, admin: ZkSession, paths: Paths, live: ReadonlySet<string>, what: string): Promise<void> {
  const seen = () => {
    const view = stage.observer.members().map((m) => m.name);
    return view.length === live.size && view.every((n) => live.has(n)) && [...live].every((n) => stage.reconciler.knows(n));
  };
  await waitFor(seen, { timeoutMs: 20_000, message: `${what}: the leader's view and directories` });
  await waitFor(async () => (await admin.getChildren(paths.assign)).children.sort().join() === [...live].sort().join(), {
    timeoutMs: 10_000,
    message: `${what}: gone members' directories deleted`,
  });
}

describe('500 members with churn', () => {
  it('joins, kills, leaves and new joins cost O(churn) requests, none of them a listing', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const stage = await leader(await pool.open(), paths);
    const resets = reconnects(stage.session);
    const [a, b, c] = [swarm(paths), swarm(paths), swarm(paths)];

    // 500 join.
    let base = snapshot();
    const [namesA, namesB] = await Promise.all([a.join(ids('a', 400)), b.join(ids('b', 100))]);
    const live = new Set([...namesA, ...namesB]);
    await waitFor(() => stage.observer.members().length === 500 && [...live].every((n) => stage.reconciler.knows(n)), {
      timeoutMs: 20_000,
      message: '500 members seen',
    });
    await stage.settle();
    const joins = since(base);
    console.log(`[measure] 500 joins: ${joins.requests} requests, ${joins.reads} read ops by the leader`, joins.byKind);
    // One read of each new member (batched), and nothing else: no listing, no re-read of the others.
    // (A reconnect, if the machine stalled the session, rightly reads everything once more.)
    expect(joins.reads).toBeLessThanOrEqual(500 + 10 + resets() * 1010);
    expect(joins.requests).toBeLessThanOrEqual(500 + 10 + resets() * 50);
    expect(listings(joins)).toBeLessThanOrEqual(resets() * 3);

    // Churn: the 100 of b killed (kill -9: their sessions expire), 50 of a leave, 100 new join.
    base = snapshot();
    const resetsBefore = resets();
    const leaving = namesA.slice(0, 50);
    await b.kill9();
    await a.leave(leaving);
    const newcomers = await c.join(ids('c', 100));
    for (const n of [...namesB, ...leaving]) live.delete(n);
    for (const n of newcomers) live.add(n);
    const gone = new Set([...namesB, ...leaving]);
    await waitFor(() => stage.observer.members().every((m) => !gone.has(m.name)) && newcomers.every((n) => stage.reconciler.knows(n)), {
      timeoutMs: 20_000,
      message: 'churn seen',
    });
    await waitFor(() => [...gone].every((n) => !stage.reconciler.knows(n)), { timeoutMs: 10_000, message: 'gone members reclaimed' });
    await stage.settle();
    const churn = since(base);
    const events = 100 + 50 + 100;
    console.log(`[measure] churn of ${events} (100 killed, 50 left, 100 joined) among 500: ${churn.requests} requests, ${churn.reads} read ops`, churn.byKind);
    // Per join one read (batched); per departure one fenced removal of its directory (its
    // deletion was seen: no check of the member node).
    const r = resets() - resetsBefore;
    expect(listings(churn)).toBeLessThanOrEqual(r * 3);
    expect(churn.reads).toBeLessThanOrEqual(100 + 10 + r * 1010);
    expect(churn.requests).toBeLessThanOrEqual(100 + 150 + 10 + r * 50);
    await pictureIs(stage, admin, paths, live, 'after churn');
  }, 90_000);

  it('a takeover with 500 members x 64 held: a handful of requests per 100 members, plus one per 6 assignments (each counted at the progress cap)', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const s = swarm(paths);
    const members = await s.join(ids('m', 500), 64);
    // 64 real assignments each (record assigned to it, attempt 1), made with the protocol's
    // builders: one multi per member (submit, then assign, of each of its tasks).
    const PER = 64;
    let made = 0;
    const fill = async (m: string, k: number) => {
      const ops = [];
      for (let j = 0; j < PER; j++) {
        const r = newTaskRecord({ type: 'echo', id: `t${k}-${j}`, timeoutMs: 60_000 });
        ops.push(...submitOps(paths, r), ...assignOps(paths, { record: r, version: 0 }, queueEntryOf(paths, r), m, 1, Date.now(), 5000).ops);
      }
      await admin.multi(ops);
      made += PER;
    };
    for (let i = 0; i < members.length; i += 16) await Promise.all(members.slice(i, i + 16).map((m, k) => fill(m, i + k)));
    expect(made).toBe(500 * PER);

    const session = await pool.open();
    const base = snapshot();
    const t0 = Date.now();
    const stage = await leader(session, paths);
    const ms = Date.now() - t0;
    const cost = since(base);
    console.log(`[measure] takeover, 500 members x ${PER} held: ${ms} ms, ${cost.requests} requests (${((cost.requests * 100) / 500).toFixed(1)} per 100 members), ${cost.reads} read ops`, cost.byKind);
    expect(stage.reconciler.heldCount()).toBe(500 * PER);
    for (const m of members) expect(stage.reconciler.load(m)).toBe(PER);
    // Nothing was stale: verification removed nothing, and deadlines were read.
    expect(stage.reconciler.earliestDeadline()).not.toBeNull();
    expect(cost.byKind.multi ?? 0).toBe(0);
    // Directories listed and records read in a handful of requests per 100 members; the
    // assignments (none known to be as a leader wrote them) at most 6 a request, so that no
    // reply can pass 512 KiB whatever progress their workers wrote over them.
    const perRequest = Math.floor(REPLY_BUDGET_BYTES / ASSIGNMENT_MAX_BYTES);
    expect(cost.requests).toBeLessThan(Math.ceil((500 * PER) / perRequest) + (500 / 100) * 40);
  }, 180_000);
});

describe('assignment directory events', () => {
  it('members killed while holding tasks: every task is back in the queue, their directories go, nothing is listed', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const s = swarm(paths);
    const members = await s.join(ids('k', 10), 4);
    const stage = await leader(await pool.open(), paths);
    const held = await Promise.all(members.map((m, i) => submitAndAssignTo(admin, paths, m, ids(`k${i}-`, 3).map((id) => ({ type: 'echo', id })))));
    // Assignments not made by this leader: each read once (its deadline and record size).
    await waitFor(() => members.every((m) => stage.reconciler.load(m) === 3), { message: '30 assignments seen' });
    await stage.settle();

    const base = snapshot();
    await s.kill9();
    await waitFor(() => members.every((m) => !stage.reconciler.knows(m)), { timeoutMs: 15_000, message: 'members taken back' });
    await stage.settle();
    const cost = since(base);
    expect((await admin.getChildren(paths.assign)).children).toEqual([]);
    for (const r of held.flat()) {
      const now = await readTask(admin, paths, r.record.id);
      expect(now.kind === 'ok' && now.record.state === 'queued' && now.record.lost === 1, `${r.record.id} back in the queue`).toBe(true);
    }
    expect(stage.reconciler.heldCount()).toBe(0);
    console.log(`[measure] 10 members killed holding 3 tasks each: ${cost.requests} requests`, cost.byKind);
    // Per task one fenced reclaim, per member one directory removal; records read packed; no listing.
    expect(listings(cost)).toBe(0);
    expect(cost.byKind.multi).toBe(30 + 10);
    expect(cost.byKind.multiRead ?? 0).toBeLessThanOrEqual(10);
    expect(cost.byKind.getData ?? 0).toBe(0);
  }, 60_000);

  it('a finish (its assignment deleted) frees the slot with no listing and no read', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const s = swarm(paths);
    const [member] = await s.join(['w1'], 2);
    const stage = await leader(await pool.open(), paths);
    await waitFor(() => stage.reconciler.knows(member!), { message: 'member directory known' });
    const [rec] = await submitAndAssignTo(admin, paths, member!, [{ type: 'echo' }]);
    // Not ours: read once (its deadline and record size), then held.
    await waitFor(() => stage.reconciler.load(member!) === 1, { message: 'assignment seen' });
    await stage.settle();

    const base = snapshot();
    await admin.remove(paths.assignment(member!, rec!.record.id, rec!.record.attempt));
    await waitFor(() => stage.reconciler.load(member!) === 0, { timeoutMs: 5000, message: 'slot freed' });
    await stage.settle();
    const cost = since(base);
    // The admin's delete is the only request: the leader read nothing.
    expect(cost.byKind).toEqual({ delete: 1 });
  }, 30_000);

  it('members and assignments that changed while the leader was cut off are seen after it reconnects', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const [host, port] = zkConnect().split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    stops.push(() => proxy.stop());
    // The longest session the suite's server grants (20 ticks of 200 ms): the cut is shorter.
    const session = await pool.open({ connectString: proxy.connectString, sessionTimeoutMs: 4000 });
    const s = swarm(paths);
    const names = await s.join(ids('w', 20), 4);
    const stage = await leader(session, paths);
    await waitFor(() => names.every((n) => stage.reconciler.knows(n)), { message: 'members known' });
    const [kept, finished] = await submitAndAssignTo(admin, paths, names[0]!, [{ type: 'echo' }, { type: 'echo' }]);
    await waitFor(() => stage.reconciler.load(names[0]!) === 2, { message: 'assignments seen' });

    proxy.cut('close');
    await waitForState(session, 'disconnected', 5000);
    const base = snapshot();
    // In the gap: 5 leave, 5 join, one assignment finishes, one appears on another member.
    await s.leave(names.slice(15));
    const newcomers = await s.join(ids('n', 5), 4);
    await admin.remove(paths.assignment(names[0]!, finished!.record.id, finished!.record.attempt));
    const [extra] = await submitAndAssignTo(admin, paths, names[1]!, [{ type: 'echo' }]);
    expect(session.state).toBe('disconnected');
    proxy.heal();
    await waitForState(session, 'connected', 10_000);

    const live = new Set([...names.slice(0, 15), ...newcomers]);
    await pictureIs(stage, admin, paths, live, 'after the cut');
    await waitFor(() => stage.reconciler.load(names[0]!) === 1 && stage.reconciler.load(names[1]!) === 1, { message: 'assignments of the gap' });
    expect(session.sessionId).toBe(stage.handle.sessionId); // same session: a reconnect, not an expiry
    const cost = since(base);
    console.log(`[measure] reset after a cut (20 members, 10 changed): ${cost.requests} requests`, cost.byKind);
    // The resets listed workers/ and assign/ once each, the election its directory: no listing per member.
    expect(listings(cost)).toBeLessThanOrEqual(3);
    expect(kept && extra).toBeTruthy();
  }, 60_000);
});
