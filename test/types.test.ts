// Rolling deploys: a task whose type no live worker handles waits in the queue (it is not
// failed), status names it and why, and it runs as soon as a worker with its handler joins.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { planAssignments, waitingReason, type PolicyWorker } from '../master/assignment-policy.js';
import { ClassGate, type GateClass } from '../master/class-gate.js';
import { ZkSession } from '../shared/zk/session.js';
import type { HandlerMap } from '../worker/handlers.js';
import { WorkerRegistration } from '../worker/registration.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { TEST_SESSION_MS, testLog, zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
const procs = new ProcessPool();
const sessions: ZkSession[] = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  for (const s of sessions.splice(0)) await s.close();
});
afterAll(() => procs.killAll());

describe('the policy knows types', () => {
  const w = (name: string, types?: string[], labels: Record<string, string> = {}): PolicyWorker => ({ name, capacity: 2, load: 0, labels, state: 'alive', ...(types ? { types } : {}) });

  it('places a task only on a worker that handles its type; a worker advertising no types only when no typed one can', () => {
    const t = (id: string, type: string, labels: Record<string, string> = {}) => ({ id, type, labels });
    expect(planAssignments([t('a', 'resize'), t('b', 'echo')], [w('old-build', ['echo'])])).toEqual([{ task: t('b', 'echo'), worker: 'old-build' }]);
    expect(planAssignments([t('a', 'resize')], [w('old-build', ['echo']), w('new-build', ['echo', 'resize'])]).map((p) => p.worker)).toEqual(['new-build']);
    expect(planAssignments([t('a', 'resize')], [w('older-version')]).map((p) => p.worker)).toEqual(['older-version']);
    // Rolling deploy: an idle typeless worker does not win over a busier one that lists the type,
    const busy = { ...w('new', ['echo', 'resize']), load: 1 };
    expect(planAssignments([t('a', 'resize'), t('b', 'resize')], [w('a-older'), busy]).map((p) => p.worker)).toEqual(['new']);
    // not even once the typed one is full (it is live: the task waits for it),
    expect(planAssignments([t('a', 'resize')], [w('a-older'), { ...busy, load: 2 }])).toEqual([]);
    // but takes what no typed worker could (a type nobody lists, labels only it has).
    expect(planAssignments([t('a', 'render'), t('b', 'resize', { gpu: 'yes' })], [w('a-older', undefined, { gpu: 'yes' }), busy]).map((p) => p.worker)).toEqual(['a-older', 'a-older']);
  });

  it('the class gate decides per profile, incrementally as profiles come and go, with the same rules', async () => {
    const gate = new ClassGate<GateClass>();
    const resize: GateClass = { type: 'resize', labels: {} };
    const gpu: GateClass = { type: 'echo', labels: { gpu: 'yes' } };
    gate.add(resize);
    gate.add(gpu);
    const open = () => [...gate.openClasses()].map((c) => c.type + JSON.stringify(c.labels)).sort();
    expect(open()).toEqual([]);
    expect([...gate.waiting()].map((x) => x.reason)).toEqual(['no live worker', 'no live worker']);
    const old = w('a-old');
    await gate.update([old, w('b-old')]);
    expect(gate.profileCount).toBe(1); // two workers, one profile
    expect(open()).toEqual(['resize{}']);
    expect(gate.quota(resize)).toBe(4);
    // A typed worker that lists resize, full: the typeless ones are out, resize waits for it.
    const typed = { ...w('new', ['echo', 'resize']), load: 2 };
    await gate.update([old, typed]);
    expect(open()).toEqual([]);
    typed.load = 1;
    await gate.update([old, typed]);
    expect(open()).toEqual(['resize{}']);
    expect(gate.quota(resize)).toBe(1);
    await gate.update([old, typed, w('g', ['echo'], { gpu: 'yes' })]);
    expect(open()).toEqual(['echo{"gpu":"yes"}', 'resize{}']);
    // The typed one leaves: the typeless one takes resize again.
    await gate.update([old]);
    expect(open()).toEqual(['resize{}']);
    expect(gate.quota(resize)).toBe(2);
    expect([...gate.waiting()].map((x) => x.reason)).toEqual(['no worker has labels gpu=yes']);
    gate.remove(resize);
    expect(open()).toEqual([]);
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

    // The leader's account (it publishes at most once a second) or, before it has, a sample.
    const s = await waitFor(() => cluster!.client.status().then((st) => st.waiting.length === 2 && st), { message: 'status names both' });
    expect(s.waiting).toEqual([
      { type: 'echo', labels: { gpu: 'yes' }, count: 1, reason: 'no worker has labels gpu=yes' },
      { type: 'resize', labels: {}, count: 1, reason: 'no worker handles type resize' },
    ]);
    expect(s.waitingSample).toMatchObject({ read: 2, of: 2 });

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
    await waitFor(() => cluster!.client.status().then((st) => st.waiting.length === 1 && st.waiting[0]!.type === 'echo'), { message: 'status names only the gpu one' });
  });
});

describe('a rolling deploy', () => {
  it('an idle worker advertising no types (an older build) gets no task a worker listing its type can take', async () => {
    cluster = await startCluster({ workers: [{ id: 'new-build', concurrency: 2 }] });
    // An older build's registration: no types in its member data. It never runs anything, so
    // a task placed on it stays assigned.
    const session = await ZkSession.open({ connectString: zkConnect(), sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    sessions.push(session);
    const old = new WorkerRegistration(session, cluster.paths, { id: 'a-old-build', capacity: 8 }, testLog);
    const oldName = await old.register();
    await old.setState('alive');
    // Sorted first and idle: the least-loaded rule alone would pick it.
    const echoes = await cluster.client.submitMany(Array.from({ length: 6 }, (_, i) => ({ type: 'echo', payload: i })));
    const done = await Promise.all(echoes.map((r) => cluster!.client.wait(r.id, { timeoutMs: 10_000 })));
    expect(done.map((r) => r.worker?.split('~')[0])).toEqual(Array(6).fill('new-build'));
    // A type no typed worker handles goes to the typeless one.
    const { id } = await cluster.client.submit({ type: 'resize' });
    const rec = await waitFor(() => cluster!.client.get(id).then((r) => r?.state === 'assigned' && r), { message: 'resize assigned' });
    expect(rec.worker).toBe(oldName);
  });
});
