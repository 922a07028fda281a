// What a dependent task reads and what is read of it, with a real leader and worker:
// ctx.parents() gives the handler its parents' outcomes (a result, a failure with
// onParentFailure 'run'; [] without dependencies), retention takes a purged task's dependency
// nodes with it, and the CLI's --after / --file dependsOn / get (one-line refusals).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dagLines } from '../cli/task-lines.js';
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { NonRetryableError, type ParentOutcome, type TaskContext } from '../worker/handlers.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli } from './harness/cli-run.js';
import { tempDir } from './harness/temp.js';
import { waitFor } from './harness/wait-for.js';
import { zkConnect } from './harness/zk.js';

let c: TestCluster;
const seen = new Map<string, ParentOutcome[]>();
beforeAll(async () => {
  c = await startCluster({
    // Retention short enough to see it purge (the CLI test's tasks never finish).
    master: { retentionMs: 2000, retentionIntervalMs: 500 },
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

const exists = async (p: string) => (await c.admin.exists(p)) !== null;
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
    const edges = async (parent: string) =>
      (await c.admin.getChildren(dag.childrenShard(c.paths.shard(parent)))).children.filter((n) => DagPaths.parentOfChunk(n) === parent);
    expect(await exists(dag.parents('rp-c'))).toBe(true);
    expect(await edges('rp-1')).toHaveLength(1);
    // Purged 2 s after they finished: records, then their parents node and reverse edges.
    await waitFor(async () => !(await exists(c.paths.task('rp-c'))) && !(await exists(dag.parents('rp-c'))) && (await edges('rp-1')).length === 0 && (await edges('rp-2')).length === 0, {
      timeoutMs: 8000,
      message: 'the purged tasks dependency nodes removed',
    });
  });

});
