// The transitions layer against a real ZooKeeper: every verdict produced for real. committed;
// fenced by a deleted election node (the leader's fence) or a removed assignment (the
// worker's); moved by a changed record version or a vanished index entry, naming the item of
// a batch; unknown when the reply is lost (a TCP proxy that passes requests and drops replies).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Paths, QueueEntry } from '../shared/protocol/paths.js';
import { Paths as P } from '../shared/protocol/paths.js';
import { newTaskRecord, malformedStandIn, type TaskRecord } from '../shared/protocol/task-record.js';
import { TRANSITIONS, rejectMalformed } from '../shared/protocol/task-state.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../shared/protocol/messages.js';
import { readTask } from '../shared/protocol/task-store.js';
import { queueEntryOf, type VersionedRecord } from '../shared/protocol/task-ops.js';
import * as tr from '../shared/protocol/transitions.js';
import { ConnectionLossError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, freshLayout, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
let session: ZkSession;
let paths: Paths;
let leader: tr.LeaderTx;
let electionNode: string;
const MEMBER = P.memberName('w1', 'inc1');
const big = { maxItems: 100, maxBytes: 400 * 1024 };

beforeEach(async () => {
  session = await pool.open();
  paths = await freshLayout(session);
  electionNode = `${paths.election}/c_0000000000000001_0000000007`;
  await session.create(electionNode);
  leader = { session, paths, fence: () => ({ op: 'check', path: electionNode, version: 0 }) };
  await session.create(paths.member(MEMBER));
  await session.create(paths.assignDir(MEMBER));
});
afterEach(() => pool.closeAll());

async function read(id: string): Promise<VersionedRecord> {
  const r = await readTask(session, paths, id);
  if (r.kind !== 'ok') throw new Error(`task ${id} is ${r.kind}`);
  return { record: r.record, version: r.version };
}
const entryOf = (rec: TaskRecord): QueueEntry => {
  const path = queueEntryOf(paths, rec);
  return P.parseQueueEntry(paths.shard(rec.id), path.slice(path.lastIndexOf('/') + 1))!;
};
const exists = async (path: string) => (await session.exists(path)) !== null;

async function submitted(n: number, prefix = 't'): Promise<TaskRecord[]> {
  const recs = Array.from({ length: n }, (_, i) => newTaskRecord({ type: 'echo', id: `${prefix}${i}`, timeoutMs: 1000 }));
  expect(await tr.submitBatch({ session, paths }, recs, 0, big)).toMatchObject({ kind: 'committed', taken: n });
  return recs;
}

async function assigned(n: number, prefix = 'a'): Promise<VersionedRecord[]> {
  const recs = await submitted(n, prefix);
  const items = await Promise.all(recs.map(async (r) => ({ entry: entryOf(r), cur: await read(r.id), worker: MEMBER })));
  const v = await tr.assignBatch(leader, items, 0, { ...big, epoch: 7, graceMs: 500 });
  expect(v.kind).toBe('committed');
  return Promise.all(recs.map((r) => read(r.id)));
}

describe('client transitions', () => {
  it('submit: committed, then moved on the record (the id is taken)', async () => {
    const rec = newTaskRecord({ type: 'echo', id: 's1' });
    expect(await tr.submit({ session, paths }, rec)).toEqual({ kind: 'committed' });
    expect(await exists(queueEntryOf(paths, rec))).toBe(true);
    expect(await tr.submit({ session, paths }, rec)).toMatchObject({ kind: 'moved', item: 0, part: 'record', code: 'NODE_EXISTS' });
  });

  it('submitBatch: takes what fits, and names the item whose id is taken', async () => {
    const recs = Array.from({ length: 5 }, (_, i) => newTaskRecord({ type: 'echo', id: `b${i}` }));
    expect(await tr.submitBatch({ session, paths }, recs, 0, { maxItems: 2, maxBytes: big.maxBytes })).toMatchObject({ kind: 'committed', taken: 2 });
    await tr.submit({ session, paths }, recs[3]!);
    const v = await tr.submitBatch({ session, paths }, recs, 2, big);
    expect(v).toMatchObject({ kind: 'moved', item: 3, part: 'record', code: 'NODE_EXISTS', taken: 3 });
    expect(await exists(paths.task('b2'))).toBe(false); // all or nothing
  });

  it('cancel: committed (queued), moved when the record changed since it was read', async () => {
    const [a, b] = await submitted(2, 'c');
    const v = await tr.cancel({ session, paths }, await read(a!.id), 'by test', Date.now());
    expect(v).toMatchObject({ kind: 'committed', next: { state: 'cancelled' } });
    expect(await exists(queueEntryOf(paths, a!))).toBe(false);
    const stale = await read(b!.id);
    await session.setData(paths.task(b!.id), Buffer.from(JSON.stringify(stale.record)));
    expect(await tr.cancel({ session, paths }, stale, 'by test', Date.now())).toMatchObject({ kind: 'moved', part: 'record', code: 'BAD_VERSION' });
  });
});

describe('leader transitions', () => {
  it('assignBatch: committed with the next records and deadlines', async () => {
    const recs = await submitted(3, 'x');
    const items = await Promise.all(recs.map(async (r) => ({ entry: entryOf(r), cur: await read(r.id), worker: MEMBER })));
    const v = await tr.assignBatch(leader, items, 1, { ...big, epoch: 7, graceMs: 500 });
    expect(v).toMatchObject({ kind: 'committed', taken: 2 });
    if (v.kind !== 'committed') return;
    expect(v.assigned.map((a) => [a.next.id, a.next.state, a.next.worker, a.next.epoch])).toEqual([
      ['x1', 'assigned', MEMBER, 7],
      ['x2', 'assigned', MEMBER, 7],
    ]);
    expect(v.assigned[0]!.deadline).toBeGreaterThan(Date.now());
    expect(await exists(paths.assignment(MEMBER, 'x2', 1))).toBe(true);
    expect((await read('x0')).record.state).toBe('queued');
  });

  it('assignBatch: moved names the task whose record changed; fenced once the election node is gone', async () => {
    const recs = await submitted(4, 'y');
    const items = await Promise.all(recs.map(async (r) => ({ entry: entryOf(r), cur: await read(r.id), worker: MEMBER })));
    await session.setData(paths.task('y2'), Buffer.from(JSON.stringify(items[2]!.cur.record)));
    expect(await tr.assignBatch(leader, items, 0, { ...big, epoch: 7, graceMs: 500 })).toMatchObject({ kind: 'moved', item: 2, part: 'record', code: 'BAD_VERSION', taken: 4 });
    expect((await read('y0')).record.state).toBe('queued'); // nothing of the batch written
    await session.remove(electionNode);
    expect(await tr.assignBatch(leader, items, 0, { ...big, epoch: 7, graceMs: 500 })).toMatchObject({ kind: 'fenced', item: null });
  });

  it('reclaim: committed; moved on the assignment when it is gone first; fenced when deposed', async () => {
    const [a, b] = await assigned(2, 'r');
    const lost = { kind: 'worker-lost' as const, message: 'gone', retryable: true };
    expect(await tr.reclaim(leader, a!, lost, Date.now(), true)).toMatchObject({ kind: 'committed', next: { state: 'queued', lost: 1 } });
    expect(await exists(paths.assignment(MEMBER, a!.record.id, 1))).toBe(false);
    await session.remove(paths.assignment(MEMBER, b!.record.id, 1));
    expect(await tr.reclaim(leader, b!, lost, Date.now(), true)).toMatchObject({ kind: 'moved', part: 'assignment', code: 'NO_NODE' });
    await session.remove(electionNode);
    expect(await tr.reclaim(leader, b!, lost, Date.now(), true)).toMatchObject({ kind: 'fenced' });
  });

  it('fail-malformed goes through the transition table: queued → failed, assigned → failed', async () => {
    expect(TRANSITIONS.queued).toContain('failed');
    expect(TRANSITIONS.assigned).toContain('failed');
    expect(rejectMalformed(malformedStandIn('m', 5, { worker: MEMBER, attempt: 2 }), 'bad', 6)).toMatchObject({ state: 'failed', attempt: 2, worker: MEMBER, finishedAt: 6, error: { kind: 'malformed', message: 'bad' } });
    // A queued stand-in never ran: no attempt entry (no fake "attempt #0"); an assigned one's attempt ended.
    expect(rejectMalformed(malformedStandIn('m', 5), 'bad', 6).history).toBeUndefined();
    expect(rejectMalformed(malformedStandIn('m', 5, { worker: MEMBER, attempt: 2 }), 'bad', 6).history).toMatchObject([{ attempt: 2, outcome: 'failed', error: { kind: 'malformed' } }]);
    // The reason quotes stored bytes: cut like any message, so the failMalformed multi stays sized.
    const long = rejectMalformed(malformedStandIn('m', 5), `has unknown state "${'x'.repeat(100_000)}"`, 6);
    expect(long.error!.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    expect(long.error!.message).toMatch(/cut\)$/);

    const [q] = await submitted(1, 'mq');
    await session.setData(paths.task(q!.id), Buffer.from('garbage'));
    const v = await tr.failMalformedQueued(leader, entryOf(q!), 'not JSON', 1);
    expect(v).toMatchObject({ kind: 'committed', next: { state: 'failed', error: { kind: 'malformed', message: 'not JSON' } } });
    expect((await read(q!.id)).record).toMatchObject({ state: 'failed', error: { kind: 'malformed' } });
    expect(await exists(queueEntryOf(paths, q!))).toBe(false);

    const [h1, h2] = await assigned(2, 'ma');
    const held = (c: VersionedRecord) => ({ member: MEMBER, taskId: c.record.id, attempt: 1, assignment: paths.assignment(MEMBER, c.record.id, 1) });
    // The leader's: fenced by its election node; an assignment already gone is moved.
    await session.remove(held(h1!).assignment);
    expect(await tr.failMalformedAssigned({ session, paths }, held(h1!), 'bad', h1!.version, leader.fence())).toMatchObject({ kind: 'moved', part: 'assignment' });
    // The worker's own: its assignment is the fence.
    expect(await tr.failMalformedAssigned({ session, paths }, held(h1!), 'bad', h1!.version)).toMatchObject({ kind: 'fenced', item: 0 });
    expect(await tr.failMalformedAssigned({ session, paths }, held(h2!), 'bad', h2!.version)).toMatchObject({ kind: 'committed', next: { state: 'failed', worker: MEMBER, attempt: 1 } });
  });

  it('purgeBatch: committed; moved names the task whose done entry is gone', async () => {
    const done = await Promise.all(
      (await submitted(3, 'p')).map(async (r) => {
        const v = await tr.cancel({ session, paths }, await read(r.id), 'x', 1000);
        if (v.kind !== 'committed') throw new Error(v.kind);
        return { taskId: r.id, doneEntry: paths.doneEntry(r.id, 1000) };
      }),
    );
    await session.remove(done[1]!.doneEntry);
    expect(await tr.purgeBatch(leader, done, 0, 50)).toMatchObject({ kind: 'moved', item: 1, part: 'done-entry', code: 'NO_NODE', taken: 3 });
    expect(await tr.purgeBatch(leader, done, 2, 50)).toMatchObject({ kind: 'committed', taken: 1 });
    expect(await exists(paths.task('p2'))).toBe(false);
  });

  it('stale entries and a gone member directory: committed, or moved (gone already, not empty)', async () => {
    const [a] = await assigned(1, 'st');
    const path = paths.assignment(MEMBER, a!.record.id, 1);
    expect(await tr.removeMemberDir(leader, MEMBER)).toMatchObject({ kind: 'moved', part: 'member-dir', code: 'NOT_EMPTY' });
    expect(await tr.removeStaleAssignment(leader, path)).toEqual({ kind: 'committed' });
    expect(await tr.removeStaleAssignment(leader, path)).toMatchObject({ kind: 'moved', part: 'assignment', code: 'NO_NODE' });
    const [q] = await submitted(1, 'sq');
    expect(await tr.removeStaleQueueEntry(leader, entryOf(q!))).toEqual({ kind: 'committed' });
    expect(await tr.removeStaleQueueEntry(leader, entryOf(q!))).toMatchObject({ kind: 'moved', part: 'queue-entry', code: 'NO_NODE' });
    expect(await tr.removeMemberDir(leader, MEMBER)).toEqual({ kind: 'committed' });
  });
});

describe('worker transitions', () => {
  it('start: committed with the new version; fenced when the assignment is removed', async () => {
    const [a, b] = await assigned(2, 'w');
    const v = await tr.start({ session, paths }, a!);
    expect(v).toMatchObject({ kind: 'committed', cur: { record: { state: 'running' }, version: a!.version + 1 } });
    await session.remove(paths.assignment(MEMBER, b!.record.id, 1));
    expect(await tr.start({ session, paths }, b!)).toMatchObject({ kind: 'fenced', item: 0 });
  });

  it('startBatch: committed with every version; fenced and moved name the item', async () => {
    const curs = await assigned(4, 'sb');
    const v = await tr.startBatch({ session, paths }, curs, 2);
    expect(v).toMatchObject({ kind: 'committed', taken: 2 });
    if (v.kind === 'committed') expect(v.started.map((c) => [c.record.id, c.record.state, c.version])).toEqual([['sb2', 'running', curs[2]!.version + 1], ['sb3', 'running', curs[3]!.version + 1]]);
    await session.setData(paths.task('sb1'), Buffer.from(JSON.stringify(curs[1]!.record)));
    expect(await tr.startBatch({ session, paths }, curs, 0)).toMatchObject({ kind: 'moved', item: 1, part: 'record', code: 'BAD_VERSION' });
    await session.remove(paths.assignment(MEMBER, 'sb0', 1));
    expect(await tr.startBatch({ session, paths }, curs, 0)).toMatchObject({ kind: 'fenced', item: 0 });
    // Sized to fit: a small request limit splits the burst.
    expect((await tr.startBatch({ session, paths }, curs, 0, { maxBytes: 300, maxItems: 100 })).taken).toBe(1);
    // And so does an item cap.
    expect((await tr.startBatch({ session, paths }, curs, 2, { maxBytes: 1 << 20, maxItems: 1 }))).toMatchObject({ taken: 1 });
  });

  it('finish: committed; fenced by a removed assignment; moved by a changed record', async () => {
    const [a, b, c] = await assigned(3, 'f');
    const ok = { kind: 'success' as const, result: 42 };
    expect(await tr.finish({ session, paths }, a!, ok, Date.now())).toMatchObject({ kind: 'committed', next: { state: 'succeeded', result: 42 } });
    expect(await exists(paths.assignment(MEMBER, 'f0', 1))).toBe(false);
    await session.remove(paths.assignment(MEMBER, 'f1', 1));
    expect(await tr.finish({ session, paths }, b!, ok, Date.now())).toMatchObject({ kind: 'fenced', item: 0, next: { state: 'succeeded' } });
    await session.setData(paths.task('f2'), Buffer.from(JSON.stringify(c!.record)));
    expect(await tr.finish({ session, paths }, c!, ok, Date.now())).toMatchObject({ kind: 'moved', part: 'record', code: 'BAD_VERSION' });
  });

  it('restoreAssignDir: committed; moved when it is there; fenced when the member node is gone', async () => {
    expect(await tr.restoreAssignDir({ session, paths }, MEMBER)).toMatchObject({ kind: 'moved', part: 'member-dir', code: 'NODE_EXISTS' });
    await session.remove(paths.assignDir(MEMBER));
    expect(await tr.restoreAssignDir({ session, paths }, MEMBER)).toEqual({ kind: 'committed' });
    await session.remove(paths.assignDir(MEMBER));
    await session.remove(paths.member(MEMBER));
    expect(await tr.restoreAssignDir({ session, paths }, MEMBER)).toMatchObject({ kind: 'fenced' });
  });
});

describe('unknown', () => {
  it('a reply lost on the way back is unknown, and the read-back shows what happened', async () => {
    const [a] = await assigned(1, 'u');
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      const cut = await pool.open({ connectString: proxy.connectString, requestTimeoutMs: 500 });
      proxy.cut('deaf'); // requests reach the server, replies are dropped
      const v = await tr.finish({ session: cut, paths }, a!, { kind: 'success', result: 'r' }, Date.now());
      expect(v.kind).toBe('unknown');
      if (v.kind === 'unknown') expect(v.error).toBeInstanceOf(ConnectionLossError);
      // It went through: the caller's verification finds the record it meant to write.
      expect((await read('u0')).record).toEqual(v.next);
      expect(tr.holdsAttempt(a!.record, MEMBER, 1)).toBe(true);
      expect(tr.holdsAttempt(v.next, MEMBER, 1)).toBe(false);
      expect(tr.heldAt(paths, a!.record)).toBe(paths.assignment(MEMBER, 'u0', 1));
      expect(tr.heldAt(paths, v.next)).toBeNull();
    } finally {
      await proxy.stop();
    }
  });
});
