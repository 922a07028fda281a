// Rolling deploys: a task whose type no live worker handles waits in the queue (it is not
// failed), status names it and why, and it runs as soon as a worker with its handler joins.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { planAssignments, waitingReason, type PolicyWorker } from '../master/assignment-policy.js';
import type { HandlerMap } from '../worker/handlers.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { ProcessPool } from './harness/processes.js';
import { zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
const procs = new ProcessPool();
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});
afterAll(() => procs.killAll());

describe('the policy knows types', () => {
  const w = (name: string, types?: string[], labels: Record<string, string> = {}): PolicyWorker => ({ name, capacity: 2, load: 0, labels, state: 'alive', ...(types ? { types } : {}) });

  it('places a task only on a worker that handles its type; a worker advertising no types takes any', () => {
    const t = (id: string, type: string) => ({ id, type, labels: {} });
    expect(planAssignments([t('a', 'resize'), t('b', 'echo')], [w('old-build', ['echo'])])).toEqual([{ task: t('b', 'echo'), worker: 'old-build' }]);
    expect(planAssignments([t('a', 'resize')], [w('old-build', ['echo']), w('new-build', ['echo', 'resize'])]).map((p) => p.worker)).toEqual(['new-build']);
    expect(planAssignments([t('a', 'resize')], [w('older-version')]).map((p) => p.worker)).toEqual(['older-version']);
  });

  it('says why nobody can take a class of tasks', () => {
    const ws = [w('cpu', ['echo']), w('gpu', ['render'], { gpu: 'yes' })];
    expect(waitingReason({ type: 'resize', labels: {} }, ws)).toBe('no worker handles type resize');
    expect(waitingReason({ type: 'echo', labels: { zone: 'eu' } }, ws)).toBe('no worker has labels zone=eu');
    expect(waitingReason({ type: 'echo', labels: { gpu: 'yes' } }, ws)).toBe('no worker with labels gpu=yes handles type echo');
    expect(waitingReason({ type: 'resize', labels: { zone: 'eu' } }, ws)).toBe('no worker handles type resize; none has labels zone=eu');
    expect(waitingReason({ type: 'render', labels: { gpu: 'yes' } }, ws)).toBeNull();
    expect(waitingReason({ type: 'echo', labels: {} }, [])).toBe('no live worker');
  });
});

describe('a type no live worker handles', () => {
  it('stays queued, status names it, and runs when a worker with its handler joins', async () => {
    cluster = await startCluster({ workers: [{ id: 'old-build' }] });
    const { id } = await cluster.client.submit({ type: 'resize', payload: { w: 256 } });
    const gpu = await cluster.client.submit({ type: 'echo', labels: { gpu: 'yes' } });
    // A task behind them runs: rounds have passed over both.
    const after = await cluster.client.submit({ type: 'echo', payload: 'behind' });
    expect(await cluster.client.wait(after.id, { timeoutMs: 10_000 })).toMatchObject({ state: 'succeeded' });
    expect(await cluster.client.get(id)).toMatchObject({ state: 'queued', attempt: 0 });

    const s = await cluster.client.status();
    expect(s.waiting).toEqual([
      { type: 'echo', labels: { gpu: 'yes' }, count: 1, reason: 'no worker has labels gpu=yes' },
      { type: 'resize', labels: {}, count: 1, reason: 'no worker handles type resize' },
    ]);
    expect(s.waitingSample).toEqual({ read: 2, of: 2 });

    // The CLI shows the same, as text and as JSON.
    const g = ['--zk', zkConnect(), '--root', cluster.paths.root];
    const json = JSON.parse((await procs.run(['status', '--json', ...g])).stdout);
    expect(json.waiting).toEqual(s.waiting);
    const text = (await procs.run(['status', ...g])).stdout;
    expect(text).toMatch(/waiting: +2 queued tasks no live worker can take/);
    expect(text).toMatch(/resize\tlabels -\t1\tno worker handles type resize/);

    const handlers: HandlerMap = { resize: (p: { w: number }) => ({ resized: p.w }) };
    await cluster.addWorker({ id: 'new-build', handlers });
    const rec = await cluster.client.wait(id, { timeoutMs: 10_000 });
    expect(rec).toMatchObject({ state: 'succeeded', attempt: 1, result: { resized: 256 } });
    expect(rec.worker).toMatch(/^new-build~/);
    expect((await cluster.client.get(gpu.id))?.state).toBe('queued');
    expect((await cluster.client.status()).waiting.map((w) => w.type)).toEqual(['echo']);
  });
});
