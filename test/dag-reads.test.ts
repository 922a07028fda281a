// What a dependent task reads and what is read of it, with a real leader and worker:
// ctx.parents() gives the handler its parents' outcomes (a result, a failure with
// onParentFailure 'run'; [] without dependencies), retention takes a purged task's dependency
// nodes with it, and the CLI's --after / --file dependsOn / get (one-line refusals).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dagLines } from '../cli/task-lines.js';
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { readTask } from '../shared/protocol/task-store.js';
import { recordEvents, seenOf } from '../client/task-feed-events.js';
import { NonRetryableError, type ParentOutcome, type TaskContext } from '../worker/handlers.js';
import { ParentsTooLargeError, readParents } from '../worker/parents-reader.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli } from './harness/cli-run.js';
import { tempDir } from './harness/temp.js';
import { zkConnect } from './harness/zk.js';

let c: TestCluster;
const seen = new Map<string, ParentOutcome[]>();
beforeAll(async () => {
  c = await startCluster({
    // Retention never on its own: the tests purge explicitly (purge() below), as of a later time.
    master: { retentionMs: 60_000, retentionIntervalMs: 600_000 },
    workers: [
      {
        id: 'dr-w1',
        concurrency: 8,
        handlers: {
          value: async (p: { v: number }) => ({ v: p.v }),
          boom: async () => {
            throw new NonRetryableError('boom');
          },
          look: async (_p: unknown, ctx: TaskContext) => {
            const first = await ctx.parents();
            expect(await ctx.parents()).toBe(first); // one read per attempt
            seen.set(ctx.taskId, first);
            return { parents: first.length };
          },
        },
      },
    ],
  });
});
afterAll(async () => {
  await c?.stop();
});

const record = async (id: string) => {
  const r = await readTask(c.admin, c.paths, id);
  if (r.kind !== 'ok') throw new Error(`${id}: ${r.kind}`);
  return r.record;
};
const exists = async (p: string) => (await c.admin.exists(p)) !== null;
/** Retention as of an hour from now (every finished task is old). Master.purgeFinished takes no time: the leadership's does. */
const purge = () => (c.leader() as unknown as { leadership: { purgeFinished(now: number): Promise<number> } }).leadership.purgeFinished(Date.now() + 3_600_000);
const cli = (...args: string[]) => runCli(['--zk', zkConnect(), '--root', c.paths.root, ...args], { timeoutMs: 15_000 });

describe('dependent tasks: reads', () => {
  it('the CLI: --after and a --file DAG submit, parents first; get shows parents and children; a cycle and an unknown id are one line, exit 1', async () => {
    const dir = tempDir('drover-dag-');
    const file = join(dir, 'dag.jsonl');
    // Of a type no worker has: they stay queued and waiting (no retention race for the gets).
    writeFileSync(file, ['{"id":"cf-b","type":"held","dependsOn":["cf-a"]}', '{"id":"cf-a","type":"held"}'].join('\n'));
    const sub = await cli('submit', '--file', file);
    expect(sub.stdout.trim().split('\n')).toEqual(['cf-a', 'cf-b']); // parents first
    expect(sub.code).toBe(0);
    const after = await cli('submit', 'held', '--id', 'cf-c', '--after', 'cf-a', '--after', 'cf-b', '--on-parent-failure', 'run');
    expect(after).toMatchObject({ code: 0, stdout: 'cf-c\n' });
    expect(dagLines((await c.client.get('cf-a'))!)).toEqual(['children:  2: cf-b, cf-c']);
    const getC = await cli('get', 'cf-c');
    expect(getC.stdout).toMatch(/^state: {5}waiting$/m);
    expect(getC.stdout).toMatch(/^parents: {3}2, runs even if one fails: cf-a queued, cf-b waiting$/m);

    writeFileSync(file, ['{"id":"cy-1","type":"value","dependsOn":["cy-2"]}', '{"id":"cy-2","type":"value","dependsOn":["cy-1"]}'].join('\n'));
    const cycle = await cli('submit', '--file', file);
    expect(cycle.code).toBe(1);
    expect(cycle.stderr.trim().split('\n')).toEqual(['drover: dependency cycle: cy-1 → cy-2 → cy-1 (→: depends on)']);
    const unknown = await cli('submit', 'value', '--after', 'cf-a,nope-404');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('depends on nope-404, which is neither in this submission nor an existing task');
    expect(await exists(c.paths.task('cy-1'))).toBe(false);
  });
  it('ctx.parents() holds the parents outcomes in submit order; retention then takes the dependency nodes', async () => {
    await c.client.submitMany([
      { id: 'rp-1', type: 'value', payload: { v: 7 } },
      { id: 'rp-2', type: 'boom' },
      { id: 'rp-c', type: 'look', dependsOn: ['rp-1', 'rp-2'], onParentFailure: 'run' },
      { id: 'rp-none', type: 'look' },
    ]);
    const child = await c.client.wait('rp-c', { timeoutMs: 10_000 });
    expect(child).toMatchObject({ state: 'succeeded', result: { parents: 2 } });
    expect(seen.get('rp-c')).toEqual([
      { id: 'rp-1', type: 'value', state: 'succeeded', result: { v: 7 } },
      { id: 'rp-2', type: 'boom', state: 'failed', result: null, error: { kind: 'handler', message: 'boom' } },
    ]);
    await c.client.wait('rp-none', { timeoutMs: 10_000 });
    expect(seen.get('rp-none')).toEqual([]);

    const dag = new DagPaths(c.paths);
    const edges = async (parent: string) => (await c.admin.exists(dag.children(parent)))?.numChildren ?? 0;
    expect(await exists(dag.parents('rp-c'))).toBe(true);
    expect(await edges('rp-1')).toBe(1);
    // Past the retention: records, their parents node and reverse-edge directories, nodes first.
    expect(await purge()).toBeGreaterThanOrEqual(4);
    for (const id of ['rp-1', 'rp-2', 'rp-c']) expect(await exists(c.paths.task(id))).toBe(false);
    expect(await exists(dag.parents('rp-c'))).toBe(false);
    for (const id of ['rp-1', 'rp-2']) expect(await exists(dag.children(id))).toBe(false);
  });

  it('retention keeps a finished parent while a child still waits for it (another parent runs on); then both go', async () => {
    await c.client.submitMany([
      { id: 'kp-p', type: 'value', payload: { v: 1 } },
      { id: 'kp-q', type: 'held' }, // no worker has it: stays queued
      { id: 'kp-c', type: 'value', payload: { v: 2 }, dependsOn: ['kp-p', 'kp-q'] },
    ]);
    await c.client.wait('kp-p', { timeoutMs: 10_000 });
    await purge();
    expect(await exists(c.paths.task('kp-p'))).toBe(true);
    expect(await exists(new DagPaths(c.paths).children('kp-p'))).toBe(true);
    expect(await c.client.cancel('kp-c', 'done waiting')).toMatchObject({ cancelled: true });
    await purge();
    expect(await exists(c.paths.task('kp-p'))).toBe(false);
    expect(await exists(c.paths.task('kp-c'))).toBe(false);
    expect(await exists(new DagPaths(c.paths).parents('kp-c'))).toBe(false);
  });

  it('retention: 120 finished parents with reverse edges go in one pass (chunks of the group read together)', async () => {
    const ids = Array.from({ length: 120 }, (_, i) => `rb-${i}`);
    await c.client.submitMany(ids.map((id) => ({ id, type: 'value', payload: { v: 1 } })));
    for (const id of ids) await c.client.wait(id, { timeoutMs: 10_000 });
    // One reverse-edge chunk each, naming a child that waits for nothing (no waiting entry).
    const dag = new DagPaths(c.paths);
    await c.admin.multi(ids.flatMap((id) => [{ op: 'create' as const, path: dag.children(id) }, { op: 'create' as const, path: dag.childChunkPrefix(id), data: Buffer.from('["rb-gone"]'), mode: 'persistent_sequential' as const }]));
    await purge(); // a pass checked at most 100 chunks before the fix
    for (const id of ids) expect(await exists(c.paths.task(id))).toBe(false);
    for (const id of ids) expect(await exists(dag.children(id))).toBe(false);
  });

  it('retention: a child submitted after a parent\'s reverse edges went (before its record purge) keeps the parent', async () => {
    await c.client.submitMany([
      { id: 'gp-p', type: 'value', payload: { v: 1 } },
      { id: 'gp-q', type: 'held' }, // no worker has it: gp-c below waits for it
    ]);
    await c.client.wait('gp-p', { timeoutMs: 10_000 });
    const dagRet = (c.leader() as unknown as { leadership: { retention: { dag: { clear: (t: unknown[]) => Promise<unknown[]> } } } }).leadership.retention.dag;
    const clear = dagRet.clear.bind(dagRet);
    let raced = false;
    dagRet.clear = async (tasks) => {
      const out = await clear(tasks);
      if (!raced && out.some((t) => (t as { taskId: string }).taskId === 'gp-p')) {
        raced = true;
        await c.client.submit({ id: 'gp-c', type: 'held', dependsOn: ['gp-p', 'gp-q'] }); // between the two steps
      }
      return out;
    };
    try {
      await purge();
    } finally {
      dagRet.clear = clear;
    }
    expect(raced).toBe(true);
    expect(await exists(c.paths.task('gp-p'))).toBe(true); // the guard refused its purge
    await purge();
    expect(await exists(c.paths.task('gp-p'))).toBe(true); // kept: gp-c waits for it
    expect(await c.client.cancel('gp-c', 'done')).toMatchObject({ cancelled: true });
    await purge();
    expect(await exists(c.paths.task('gp-p'))).toBe(false);
  });

  it('ctx.parents() past its byte bound is an error naming it; the feed shows queued between waiting and running', async () => {
    const rec = await record('cf-c');
    await c.client.submitMany([
      { id: 'pb-1', type: 'value', payload: { v: 'x'.repeat(300) } },
      { id: 'pb-c', type: 'held', dependsOn: ['pb-1'] },
    ]);
    await c.client.wait('pb-1', { timeoutMs: 10_000 });
    const child = await record('pb-c');
    await expect(readParents(c.admin, c.paths, child, 100)).rejects.toThrow(ParentsTooLargeError);
    await expect(readParents(c.admin, c.paths, child, 100)).rejects.toThrow(/parents are over 100 bytes \(PARENTS_MAX_BYTES\)/);
    expect(await readParents(c.admin, c.paths, child)).toHaveLength(1);
    // A waiting record, read next when already running: queued, then assigned, then started.
    const running = { ...rec, state: 'running' as const, attempt: 1, assignedAt: rec.updatedAt + 1, updatedAt: rec.updatedAt + 2, worker: 'w' };
    const events = recordEvents(seenOf(rec), running, true);
    expect(events.map((e) => e.kind)).toEqual(['queued', 'assigned', 'started']);
    // No notBefore (updatedAt is the start's): queued is not after its own assignment.
    expect(events.map((e) => e.at)).toEqual([running.assignedAt, running.assignedAt, running.updatedAt]);
  });

});
