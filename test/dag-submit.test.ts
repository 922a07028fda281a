// The submit side of task dependencies on a real ZooKeeper, no leader running (so what was
// written stays as written): the layout a diamond leaves (waiting records, parents chunks,
// reverse edges, waiting entries), refusals that write nothing (a cycle, an unknown parent),
// a 10 000-wide fan-out and a wide fan-in (no request over 512 KiB), get's
// parents and children, and a cancel of a waiting task.
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ORPHAN_TIMING, SubmitInProgressError } from '../client/dag-submit-wide.js';
import { DroverClient } from '../client/drover-client.js';
import { DependencyCycleError, UnknownParentError, topoOrder } from '../client/dag-submit.js';
import { DagPaths, PARENT_CHUNK } from '../shared/protocol/dag-paths.js';
import { readChildIds, readParentIds } from '../shared/protocol/dag-reads.js';
import type { Paths } from '../shared/protocol/paths.js';
import { doneEntryOf, opsBytes, queueEntryOf } from '../shared/protocol/task-ops.js';
import { newTaskRecord, TaskValidationError } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import type { Op, ZkSession } from '../shared/zk/session.js';
import { SessionPool, freshLayout } from './harness/zk.js';

const pool = new SessionPool();
let session: ZkSession;
let paths: Paths;
let dag: DagPaths;
let client: DroverClient;
/** Every multi the client sent, by its size (opsBytes: the server's count, commit-size.test.ts). */
const sent: number[] = [];
/** The ops of every multi the client sent. */
const sentOps: Op[][] = [];

beforeAll(async () => {
  session = await pool.open();
  paths = await freshLayout(session);
  dag = new DagPaths(paths);
  const multi = session.multi.bind(session);
  session.multi = (ops: Op[]) => {
    sent.push(opsBytes(ops));
    sentOps.push(ops);
    return multi(ops);
  };
  client = await DroverClient.connect({ session, root: paths.root });
});
afterAll(async () => {
  await client?.close();
  await pool.closeAll();
});

const exists = async (p: string) => (await session.exists(p)) !== null;
const record = async (id: string) => {
  const r = await readTask(session, paths, id);
  if (r.kind !== 'ok') throw new Error(`${id}: ${r.kind}`);
  return r.record;
};

describe('submitting tasks with dependencies', () => {
  it('a diamond given children first: parents first, records waiting with their counts, chunks, reverse edges and waiting entries', async () => {
    const before = sent.length;
    const res = await client.submitMany([
      { id: 'dm-d', type: 'ok', dependsOn: ['dm-b', 'dm-c'] },
      { id: 'dm-b', type: 'ok', dependsOn: ['dm-a'], onParentFailure: 'run' },
      { id: 'dm-c', type: 'ok', dependsOn: ['dm-a'] },
      { id: 'dm-a', type: 'ok' },
    ]);
    expect(res.map((r) => [r.id, r.created, r.record.state])).toEqual([
      ['dm-d', true, 'waiting'],
      ['dm-b', true, 'waiting'],
      ['dm-c', true, 'waiting'],
      ['dm-a', true, 'queued'],
    ]);
    expect(sent.length - before).toBe(2); // dm-a's reverse-edge directory, then one multi: a, then c, b, d in it
    const a = await record('dm-a');
    expect(await exists(queueEntryOf(paths, a))).toBe(true);
    expect(a.dependsOn).toBeUndefined();
    const d = await record('dm-d');
    expect(d).toMatchObject({ state: 'waiting', dependsOn: { count: 2, onParentFailure: 'fail' } });
    expect(d.notBefore).toBeUndefined();
    expect((await record('dm-b')).dependsOn).toEqual({ count: 1, onParentFailure: 'run' });
    for (const id of ['dm-b', 'dm-c', 'dm-d']) expect(await exists(dag.waiting(id))).toBe(true);
    expect(await exists(dag.waiting('dm-a'))).toBe(false);
    expect(JSON.parse((await session.getData(dag.parents('dm-d'))).data.toString())).toEqual({ count: 2, onParentFailure: 'fail', chunks: 1 });
    expect(await readParentIds(session, dag, 'dm-d')).toEqual(['dm-b', 'dm-c']);
    expect(await readParentIds(session, dag, 'dm-a')).toBeNull();
    expect((await readChildIds(session, dag, 'dm-a')).sort()).toEqual(['dm-b', 'dm-c']);
    expect(await readChildIds(session, dag, 'dm-d')).toEqual([]);
    // One reverse-edge chunk per parent for the multi, in the parent's own directory.
    expect((await session.getChildren(dag.children('dm-a'))).children).toEqual(['e0000000000']);

    const view = await client.get('dm-d');
    expect(view?.parents).toEqual({ count: 2, onParentFailure: 'fail', shown: [{ id: 'dm-b', state: 'waiting' }, { id: 'dm-c', state: 'waiting' }] });
    expect(view?.children).toBeUndefined();
    expect((await client.get('dm-a'))?.children).toMatchObject({ count: 2, complete: true });
    expect((await client.get('dm-a'))?.parents).toBeUndefined();
    // list --state waiting finds them by their waiting entries.
    const page = await client.list({ state: 'waiting' });
    expect(page.tasks.map((t) => t.id).sort()).toEqual(['dm-b', 'dm-c', 'dm-d']);
  });

  it('a cycle, an unknown parent, itself or a duplicate are refused before anything is written', async () => {
    const before = sent.length;
    const cycle = client.submitMany([
      { id: 'cy-x', type: 'ok' },
      { id: 'cy-a', type: 'ok', dependsOn: ['cy-c', 'cy-x'] },
      { id: 'cy-b', type: 'ok', dependsOn: ['cy-a'] },
      { id: 'cy-c', type: 'ok', dependsOn: ['cy-b'] },
    ]);
    await expect(cycle).rejects.toThrow(DependencyCycleError);
    await expect(cycle).rejects.toThrow('dependency cycle: cy-a → cy-c → cy-b → cy-a');
    const unknown = client.submitMany([
      { id: 'un-a', type: 'ok' },
      { id: 'un-b', type: 'ok', dependsOn: ['un-a', 'dm-a', 'no-such-task', 'nor-this'] },
    ]);
    await expect(unknown).rejects.toThrow(UnknownParentError);
    await expect(unknown).rejects.toThrow('task un-b depends on no-such-task, which is neither in this submission nor an existing task (and 1 more unknown parent ids)');
    await expect(client.submit({ id: 'un-c', type: 'ok', dependsOn: ['nope'] })).rejects.toThrow(UnknownParentError);
    expect(sent.length).toBe(before);
    for (const id of ['cy-x', 'cy-a', 'cy-b', 'cy-c', 'un-a', 'un-b', 'un-c']) {
      expect(await exists(paths.task(id))).toBe(false);
      expect(await exists(dag.parents(id))).toBe(false);
    }
    const field = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(TaskValidationError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(field(() => newTaskRecord({ id: 's1', type: 'ok', dependsOn: ['s1'] }))).toBe('task s1 cannot depend on itself');
    expect(field(() => newTaskRecord({ id: 's1', type: 'ok', dependsOn: ['p', 'p'] }))).toBe('task s1 depends on p twice');
    expect(field(() => newTaskRecord({ id: 's1', type: 'ok', dependsOn: ['bad id'] }))).toMatch(/^dependsOn: /);
    expect(field(() => newTaskRecord({ id: 's1', type: 'ok', dependsOn: ['p'], onParentFailure: 'maybe' as 'run' }))).toMatch(/onParentFailure/);
    // A 10 000-long chain orders without overflowing the stack.
    const n = 10_000;
    const ids = Array.from({ length: n }, (_, i) => `ch-${i}`);
    expect(topoOrder(ids, ids.map((_, i) => (i + 1 < n ? [ids[i + 1]!] : [])))[0]).toBe(n - 1);
  });

  it('a 10 000-wide fan-out of short ids, a fan-in of 1 500 150-character ids (the wide path): no request over 512 KiB, submitting it again writes nothing, get shows the first 100', async () => {
    const n = 10_000;
    const kids = Array.from({ length: n }, (_, i) => `fo-${String(i).padStart(5, '0')}`);
    // 150-character ids: the fan-in's parent list and edges (~570 KB) cannot go in one request with its record.
    const wide = Array.from({ length: 1_500 }, (_, i) => `fi-${String(i).padStart(5, '0')}-${'x'.repeat(141)}`);
    const before = sent.length;
    const t0 = Date.now();
    await client.submitMany([
      { id: 'fo-root', type: 'ok' },
      ...kids.map((id) => ({ id, type: 'ok', dependsOn: ['fo-root'] })),
      ...wide.map((id) => ({ id, type: 'ok' })),
      { id: 'fo-sink', type: 'ok', dependsOn: wide },
    ]);
    const ms = Date.now() - t0;
    const sizes = sent.slice(before);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(512 * 1024);
    console.log(`fan-out of ${n}, fan-in of ${wide.length}: ${sizes.length} multis, largest ${Math.max(...sizes)} bytes, ${ms} ms`);
    // The wide path: the sink's parents node and chunks went before its record, in a multi of their own.
    const sinkAt = sentOps.findIndex((ops) => ops.some((o) => o.op === 'create' && o.path === paths.task('fo-sink')));
    const nodeAt = sentOps.findIndex((ops) => ops.some((o) => o.op === 'create' && o.path === dag.parents('fo-sink')));
    expect(nodeAt).toBeGreaterThanOrEqual(0);
    expect(nodeAt).toBeLessThan(sinkAt);
    const node = JSON.parse((await session.getData(dag.parents('fo-sink'))).data.toString()) as { chunks: number; count: number };
    expect(node).toEqual({ count: wide.length, onParentFailure: 'fail', chunks: wide.length / PARENT_CHUNK });
    expect(await readParentIds(session, dag, 'fo-sink')).toEqual(wide);
    const children = await readChildIds(session, dag, 'fo-root');
    expect(children.length).toBe(n);
    expect(new Set(children)).toEqual(new Set(kids));
    // The fan-in child's reverse edges: one under each parent.
    expect(await readChildIds(session, dag, wide[1234]!)).toEqual(['fo-sink']);
    const root = await client.get('fo-root');
    // Its 10 000 children came in more than 50 multis (≤ 200 items each): get reads 50 chunks and says so.
    expect((await session.exists(dag.children('fo-root')))?.numChildren).toBeGreaterThan(50);
    expect(root?.children).toMatchObject({ complete: false });
    expect(root?.children?.count).toBeGreaterThan(5000);
    expect(root?.children?.shown).toHaveLength(100);
    const sink = await client.get('fo-sink');
    expect(sink?.parents?.count).toBe(wide.length);
    expect(sink?.parents?.shown).toEqual(wide.slice(0, 100).map((id) => ({ id, state: 'queued' })));
    // Submitted again: it exists, so nothing is written (no second reverse edge under its parents).
    const again = sent.length;
    expect(await client.submit({ id: 'fo-sink', type: 'ok', dependsOn: wide })).toMatchObject({ created: false });
    expect(sent.length).toBe(again);
    expect((await session.getChildren(dag.children(wide[77]!))).children).toHaveLength(1);
  }, 30_000);

  it('a reversed chain of 450 given children first, over several multis: every child in a multi after its parent\'s', async () => {
    const n = 450;
    const ids = Array.from({ length: n }, (_, i) => `rc-${i}`);
    const from = sentOps.length;
    await client.submitMany(ids.map((id, i) => (i + 1 < n ? { id, type: 'ok', dependsOn: [ids[i + 1]!] } : { id, type: 'ok' })));
    const multiOf = new Map<string, number>();
    sentOps.slice(from).forEach((ops, m) => {
      for (const op of ops) if (op.op === 'create' && paths.partOf(op.path) === 'record') multiOf.set(op.path, m);
    });
    const at = (id: string) => multiOf.get(paths.task(id))!;
    expect(new Set(ids.map(at)).size).toBeGreaterThan(2); // split over batches
    for (let i = 0; i + 1 < n; i++) expect(at(ids[i]!)).toBeGreaterThanOrEqual(at(ids[i + 1]!));
  });

  it('one parent named by 51 submit calls: its own directory of 51 chunks; get reads at most 50 of them and says so', async () => {
    await client.submit({ id: 'bp-p', type: 'ok' });
    for (let i = 0; i < 51; i++) await client.submit({ id: `bp-c${i}`, type: 'ok', dependsOn: ['bp-p'] });
    const dir = await session.exists(dag.children('bp-p'));
    expect(dir?.numChildren).toBe(51);
    // Nothing of it in the shard's listing but the directory itself.
    expect((await session.getChildren(dag.childrenShard(paths.shard('bp-p')))).children.filter((c) => c.startsWith('bp-p'))).toEqual(['bp-p']);
    const view = (await client.get('bp-p'))?.children;
    expect(view).toMatchObject({ count: 50, complete: false });
    expect(view?.shown.slice(0, 3)).toEqual(['bp-c0', 'bp-c1', 'bp-c2']);
    expect((await readChildIds(session, dag, 'bp-p')).length).toBe(51);
  });

  it('a parents node younger than the bound is another submit in progress: looked at again, then a clear error; nothing removed', async () => {
    await session.create(dag.parents('yo-c'), Buffer.from(JSON.stringify({ count: 1, onParentFailure: 'fail', chunks: 1 })));
    await session.create(dag.parentChunk('yo-c', 0), Buffer.from(JSON.stringify(['x'])));
    const saved = { ...ORPHAN_TIMING };
    ORPHAN_TIMING.waitsMs = [20, 20];
    try {
      await expect(client.submit({ id: 'yo-c', type: 'ok', dependsOn: ['dm-a'] })).rejects.toThrow(SubmitInProgressError);
    } finally {
      Object.assign(ORPHAN_TIMING, saved);
    }
    expect(await readParentIds(session, dag, 'yo-c')).toEqual(['x']); // the other submitter's, untouched
  });

  it('a parents node and waiting entry left without their record (a failed try, a purge cut short) do not block a submit of that id', async () => {
    ORPHAN_TIMING.minAgeMs = 0; // as if left 10 minutes ago
    onTestFinished(() => void (ORPHAN_TIMING.minAgeMs = 10 * 60_000));
    await session.create(dag.parents('or-c'), Buffer.from(JSON.stringify({ count: 2, onParentFailure: 'fail', chunks: 1 })));
    await session.create(dag.parentChunk('or-c', 0), Buffer.from(JSON.stringify(['x', 'y'])));
    await session.create(dag.waiting('or-c'));
    const r = await client.submit({ id: 'or-c', type: 'ok', dependsOn: ['dm-a'] });
    expect(r).toMatchObject({ created: true, record: { state: 'waiting', dependsOn: { count: 1 } } });
    expect(await readParentIds(session, dag, 'or-c')).toEqual(['dm-a']);
    expect(await exists(dag.waiting('or-c'))).toBe(true);
  });

  it('cancel of a waiting task: its waiting entry goes, its done entry comes; submitting it again changes nothing', async () => {
    await client.submitMany([
      { id: 'cw-p', type: 'ok' },
      { id: 'cw-c', type: 'ok', dependsOn: ['cw-p'] },
    ]);
    expect(await client.cancel('cw-c', 'not needed')).toEqual({ cancelled: true, state: 'cancelled' });
    const c = await record('cw-c');
    expect(c).toMatchObject({ state: 'cancelled', error: { kind: 'cancelled', message: 'not needed' } });
    expect(await exists(dag.waiting('cw-c'))).toBe(false);
    expect(await exists(doneEntryOf(paths, c))).toBe(true);
    const again = await client.submit({ id: 'cw-c', type: 'ok', dependsOn: ['cw-p'] });
    expect(again).toMatchObject({ created: false, record: { state: 'cancelled' } });
  });
});
