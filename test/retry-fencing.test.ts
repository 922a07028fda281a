// The retry's one multi (shared/protocol/retry-ops.ts) against what races it, on the suite's
// real ZooKeeper, from separate sessions: two retries of one task (the record's version: one
// wins, the other reads it queued), a retry and retention's purge (purgeBatch, as the leader
// sends it: one wins; a purged task is not found, exit 4), and two bulk retries at once (every
// task retried once). After each: no orphan queue entry, no done entry left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient, TaskNotFoundError } from '../client/drover-client.js';
import { EXIT } from '../cli/exit-codes.js';
import type { Paths } from '../shared/protocol/paths.js';
import { doneEntryOf, retry } from '../shared/protocol/retry-ops.js';
import { Multi, cancel, finish, purgeBatch, start, submit, type LeaderTx } from '../shared/protocol/transitions.js';
import { assignOps, queueEntryOf } from '../shared/protocol/task-ops.js';
import { encodeRecord, malformedStandIn, newTaskRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { assignTask, failAttempt, rejectMalformed } from '../shared/protocol/task-state.js';
import type { ZkSession } from '../shared/zk/session.js';
import { runCli } from './harness/cli-run.js';
import { SessionPool, freshLayout, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
let s1: ZkSession;
let s2: ZkSession;
let paths: Paths;
beforeAll(async () => {
  [s1, s2] = await Promise.all([pool.open(), pool.open()]);
  paths = await freshLayout(s1);
});
afterAll(async () => {
  await pool.closeAll();
});

/** A task that failed (its record and done entry, as a worker's finish writes them): no master runs here. */
async function failedTask(id: string, type = 'gate'): Promise<TaskRecord> {
  const rec = failAttempt(assignTask(newTaskRecord({ type, id }), 'w~1', 1, 1), { kind: 'handler', message: 'down', retryable: false }, 2);
  await s1.multi([
    { op: 'create', path: paths.task(id), data: encodeRecord(rec) },
    { op: 'create', path: doneEntryOf(paths, rec) },
  ]);
  return rec;
}

/** Where a task is indexed now: its record's state, its queue entries, its done entries. */
async function indexed(id: string): Promise<{ state: string | null; queue: number; done: number }> {
  const shard = paths.shard(id);
  const [r, q, d] = await Promise.all([
    readTask(s1, paths, id),
    s1.getChildren(paths.queueShard(shard)),
    s1.getChildren(paths.doneShard(shard)),
  ]);
  const mine = (names: string[]) => names.filter((n) => n.endsWith(`-${id}`) || n.endsWith(`-${id}~b`)).length;
  return { state: r.kind === 'ok' ? r.record.state : null, queue: mine(q.children), done: mine(d.children) };
}

const read = async (id: string) => {
  const r = await readTask(s1, paths, id);
  if (r.kind !== 'ok') throw new Error(`${id}: ${r.kind}`);
  return { record: r.record, version: r.version };
};

describe('retry fencing', () => {
  it('two retries of one task at once: exactly one is written; the other client hears "queued"', async () => {
    await failedTask('twice');
    const cur = await read('twice');
    const now = Date.now();
    const vs = await Promise.all([retry({ session: s1, paths }, cur, now), retry({ session: s2, paths }, cur, now + 1)]);
    expect(vs.map((v) => v.kind).sort()).toEqual(['committed', 'moved']);
    expect(vs.find((v) => v.kind === 'moved')).toMatchObject({ part: 'record', code: 'BAD_VERSION' });
    expect(await indexed('twice')).toEqual({ state: 'queued', queue: 1, done: 0 });
    // Through the library, from two sessions: one retried, the other finds it queued.
    await failedTask('twice-client');
    const [c1, c2] = await Promise.all([DroverClient.connect({ session: s1, root: paths.root }), DroverClient.connect({ session: s2, root: paths.root })]);
    const rs = await Promise.all([c1.retry('twice-client'), c2.retry('twice-client')]);
    expect(rs.filter((r) => r.retried)).toHaveLength(1);
    expect(rs.map((r) => r.state)).toEqual(['queued', 'queued']);
    expect(await indexed('twice-client')).toEqual({ state: 'queued', queue: 1, done: 0 });
    expect((await read('twice-client')).record.retries).toBe(1);
  });

  it('a retry racing retention\'s purge: one wins, no orphan entry either way; a purged task is not found (exit 4)', async () => {
    // The leader's purge, fenced as it sends it (here the fence is a check of the layout node).
    const leader: LeaderTx = { session: s2, paths, fence: () => ({ op: 'check', path: paths.layout }) };
    const ids = Array.from({ length: 12 }, (_, i) => `race-${i}`);
    const recs = await Promise.all(ids.map((id) => failedTask(id)));
    const curs = await Promise.all(ids.map(read));
    const outcomes = await Promise.all(
      ids.map(async (id, i) => {
        const doRetry = () => retry({ session: s1, paths }, curs[i]!, Date.now());
        const doPurge = () => purgeBatch(leader, [{ taskId: id, doneEntry: doneEntryOf(paths, recs[i]!) }], 0, 1);
        // Half the pairs send the purge first (each call sends its multi when called).
        let r: Awaited<ReturnType<typeof doRetry>>;
        let p: Awaited<ReturnType<typeof doPurge>>;
        if (i % 2) [r, p] = await Promise.all([doRetry(), doPurge()]);
        else [p, r] = await Promise.all([doPurge(), doRetry()]);
        return { id, retried: r.kind === 'committed', purged: p.kind === 'committed' };
      }),
    );
    for (const o of outcomes) {
      expect(o.retried !== o.purged, `${o.id}: exactly one wins`).toBe(true);
      expect(await indexed(o.id)).toEqual(o.retried ? { state: 'queued', queue: 1, done: 0 } : { state: null, queue: 0, done: 0 });
    }
    // Purge first, then a retry: not found (the library's error; the CLI's exit 4).
    await failedTask('purged');
    const cur = await read('purged');
    expect((await purgeBatch(leader, [{ taskId: 'purged', doneEntry: doneEntryOf(paths, cur.record) }], 0, 1)).kind).toBe('committed');
    expect(await retry({ session: s1, paths }, cur, Date.now())).toMatchObject({ kind: 'moved', part: 'record', code: 'NO_NODE' });
    const c = await DroverClient.connect({ session: s1, root: paths.root });
    await expect(c.retry('purged')).rejects.toThrow(TaskNotFoundError);
    const cli = await runCli(['retry', 'purged', '--zk', zkConnect(), '--root', paths.root]);
    expect(cli).toMatchObject({ code: EXIT.notFound, stderr: 'drover: task purged not found\n' });
    // Retry first, then the purge of its (gone) done entry: refused, the record stays queued.
    await failedTask('kept');
    const k = await read('kept');
    expect((await retry({ session: s1, paths }, k, Date.now())).kind).toBe('committed');
    expect(await purgeBatch(leader, [{ taskId: 'kept', doneEntry: doneEntryOf(paths, k.record) }], 0, 1)).toMatchObject({ kind: 'moved', part: 'done-entry', code: 'NO_NODE' });
    expect(await indexed('kept')).toEqual({ state: 'queued', queue: 1, done: 0 });
  });

  it('a failed record whose done entry is missing (a damaged index) is not retried: no stray entry, one clear line', async () => {
    const rec = failAttempt(assignTask(newTaskRecord({ type: 'gate', id: 'no-entry' }), 'w~1', 1, 1), { kind: 'handler', message: 'down', retryable: false }, 2);
    await s1.create(paths.task('no-entry'), encodeRecord(rec));
    const cur = await read('no-entry');
    expect(await retry({ session: s1, paths }, cur, Date.now())).toMatchObject({ kind: 'moved', part: 'done-entry', code: 'NO_NODE' });
    expect(await indexed('no-entry')).toEqual({ state: 'failed', queue: 0, done: 0 });
    const c = await DroverClient.connect({ session: s1, root: paths.root });
    await expect(c.retry('no-entry')).rejects.toThrow('task no-entry is failed but has no done entry (the index is damaged): not retried');
    const cli = await runCli(['retry', 'no-entry', '--zk', zkConnect(), '--root', paths.root]);
    expect(cli).toMatchObject({ code: EXIT.error, stderr: 'drover: task no-entry is failed but has no done entry (the index is damaged): not retried\n' });
    expect(await indexed('no-entry')).toEqual({ state: 'failed', queue: 0, done: 0 });
  });

  it('a task failed as malformed (its stand-in: type unknown, payload null) is refused in one line, and never matched in bulk', async () => {
    const rec = rejectMalformed(malformedStandIn('mal-1', 1), 'record is not JSON', 2);
    await s1.multi([
      { op: 'create', path: paths.task('mal-1'), data: encodeRecord(rec) },
      { op: 'create', path: doneEntryOf(paths, rec) },
    ]);
    const line = 'task mal-1 failed as malformed: its record could not be read (type and payload are lost), so it cannot run again; submit it anew';
    const c = await DroverClient.connect({ session: s1, root: paths.root });
    await expect(c.retry('mal-1')).rejects.toThrow(line);
    const cli = await runCli(['retry', 'mal-1', '--zk', zkConnect(), '--root', paths.root]);
    expect(cli).toMatchObject({ code: EXIT.error, stderr: `drover: ${line}\n` });
    expect(await c.retryMany({ state: 'failed', type: 'unknown' })).toMatchObject({ matched: 0, retried: 0 });
    expect(await indexed('mal-1')).toEqual({ state: 'failed', queue: 0, done: 1 });
  });

  it('a late commit of the attempt before a retry is fenced, even when the retry\'s run goes to the same worker', async () => {
    const tx = { session: s1, paths };
    const rec = newTaskRecord({ type: 'gate', id: 'late-commit' });
    expect((await submit(tx, rec)).kind).toBe('committed');
    const assign = async (member: string) => {
      const cur = await read('late-commit');
      const t = assignOps(paths, cur, queueEntryOf(paths, cur.record), member, 1, Date.now(), 0);
      expect((await new Multi(paths).add(0, t.ops, 'assignment').send(s1)).kind).toBe('committed');
      return read('late-commit');
    };
    await s1.mkdirp(paths.assignDir('w~1'));
    const a1 = await assign('w~1');
    const started = await start(tx, a1);
    if (started.kind !== 'committed') throw new Error(`start: ${started.kind}`);
    const old = started.cur; // what the worker of attempt 1 holds while its handler runs
    // Cancelled meanwhile, retried, and given to the same worker again as attempt 2.
    expect((await cancel(tx, old, 'operator', Date.now())).kind).toBe('committed');
    expect((await retry(tx, await read('late-commit'), Date.now())).kind).toBe('committed');
    const a2 = await assign('w~1');
    expect(a2.record).toMatchObject({ state: 'assigned', attempt: 2, attemptBase: 1 });
    // Attempt 1's commit arrives now: its assignment (the fence) is gone.
    const v = await finish({ session: s2, paths }, old, { kind: 'success', result: 'stale' }, Date.now());
    expect(v.kind).toBe('fenced');
    const now = await read('late-commit');
    expect([now.version, now.record.state, now.record.attempt, now.record.result]).toEqual([a2.version, 'assigned', 2, undefined]);
    expect(await indexed('late-commit')).toEqual({ state: 'assigned', queue: 0, done: 0 });
  });

  it('two bulk retries at once: every failed task of the type is retried exactly once', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `bulk-${i}`);
    for (const id of ids) await failedTask(id, 'bulk');
    const [c1, c2] = await Promise.all([DroverClient.connect({ session: s1, root: paths.root }), DroverClient.connect({ session: s2, root: paths.root })]);
    const [r1, r2] = await Promise.all([c1.retryMany({ state: 'failed', type: 'bulk' }), c2.retryMany({ state: 'failed', type: 'bulk' })]);
    expect(r1.retried + r2.retried).toBe(ids.length);
    for (const id of ids) {
      expect(await indexed(id)).toEqual({ state: 'queued', queue: 1, done: 0 });
      expect((await read(id)).record.retries).toBe(1);
    }
  });
});
