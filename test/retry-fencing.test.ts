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
import { purgeBatch, type LeaderTx } from '../shared/protocol/transitions.js';
import { encodeRecord, newTaskRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { assignTask, failAttempt } from '../shared/protocol/task-state.js';
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
        const both = [retry({ session: s1, paths }, curs[i]!, Date.now()), purgeBatch(leader, [{ taskId: id, doneEntry: doneEntryOf(paths, recs[i]!) }], 0, 1)] as const;
        // Half the pairs start with the purge.
        const [r, p] = i % 2 ? await Promise.all(both) : (await Promise.all([both[1], both[0]])).reverse();
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
