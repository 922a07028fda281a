// Crashes of real processes (kill -9, and failpoints that SIGKILL at an exact step) in the
// middle of real work: nothing is lost, every task ends once, each outcome comes from an
// execution that really happened.
import { afterEach, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { readLeader } from '../shared/zk/election.js';
import { ProcessPool, type DroverProcess } from './harness/processes.js';
import { RECORDING_HANDLERS, checkOutcomes, newExecLog, readExecLog } from './harness/exec-log.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const procs = new ProcessPool();
afterEach(async () => {
  await procs.killAll();
  await pool.closeAll();
});

const common = (root: string) => ['--zk', zkConnect(), '--root', root, '--session-timeout', String(TEST_SESSION_MS)];

function worker(root: string, id: string, execLog: string, concurrency = 4, env: NodeJS.ProcessEnv = {}): DroverProcess {
  return procs.spawn(id, ['worker', '--id', id, '--concurrency', String(concurrency), '--handlers', RECORDING_HANDLERS, '--grace', '2000', ...common(root)], {
    DROVER_EXEC_LOG: execLog,
    ...env,
  });
}
function master(root: string, id: string, env: NodeJS.ProcessEnv = {}): DroverProcess {
  return procs.spawn(id, ['master', '--id', id, ...common(root)], env);
}
const alive = (p: DroverProcess) => p.waitForLine((l) => l.msg === 'worker alive', 15_000, `${p.name} alive`);

describe('crash recovery with real processes', () => {
  it('worker kill -9 while it runs tasks: they are re-queued and finish exactly once elsewhere', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const execLog = newExecLog();
    master(paths.root, 'm1');
    const w1 = worker(paths.root, 'w1', execLog);
    await alive(w1);
    const subs = await client.submitMany(Array.from({ length: 8 }, (_, i) => ({ type: 'work', id: `k${i}`, payload: { ms: 1500 } })));
    await waitFor(() => readExecLog(execLog).filter((e) => e.event === 'start' && e.pid === w1.pid).length === 4, { message: 'w1 runs 4' });
    const w2 = worker(paths.root, 'w2', execLog);
    await alive(w2);
    w1.kill9();
    const recs = await Promise.all(subs.map((t) => client.wait(t.id, { timeoutMs: 30_000 })));
    expect(recs.every((r) => r.state === 'succeeded')).toBe(true);
    const execs = readExecLog(execLog);
    const cut = new Set(execs.filter((e) => e.event === 'start' && e.pid === w1.pid).map((e) => e.taskId));
    expect(cut.size).toBe(4);
    for (const r of recs) {
      const res = r.result as { pid: number };
      if (cut.has(r.id)) {
        expect(res.pid).toBe(w2.pid); // finished elsewhere, as a later attempt
        expect(r.attempt).toBe(2);
      }
    }
    const report = await checkOutcomes(client, s, subs.map((t) => t.id), execs);
    expect(report).toMatchObject({ lost: [], notTerminal: [], doubleDone: [], resultWithoutExecution: [] });
  });

  it('leader kill -9 at several points of a stream of 400 tasks (inside an assignment batch too): nothing lost, one outcome each', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const execLog = newExecLog();
    // Each of the first two leaders dies at an exact step of assigning; the third is killed by the test.
    const m0 = master(paths.root, 'm0', { DROVER_FAILPOINTS: 'leader.before-assign=kill@3' });
    await m0.waitForLine((l) => l.msg === 'elected leader');
    // Candidates line up in the order they join: wait for each before starting the next.
    const following = (p: DroverProcess) => p.waitForLine((l) => l.msg === 'master following', 15_000, `${p.name} follows`);
    const m1 = master(paths.root, 'm1', { DROVER_FAILPOINTS: 'leader.after-assign=kill@4' });
    await following(m1);
    const m2 = master(paths.root, 'm2');
    await following(m2);
    const m3 = master(paths.root, 'm3');
    await following(m3);
    const ws = ['w1', 'w2', 'w3'].map((id) => worker(paths.root, id, execLog, 8));
    await Promise.all(ws.map(alive));

    const ids: string[] = [];
    for (let b = 0; b < 8; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => ({ type: 'work', id: `s${b}-${i}`, payload: { ms: 5 + (i % 4) * 5, value: b * 50 + i } }));
      ids.push(...(await client.submitMany(batch)).map((r) => r.id));
      if (b === 5) {
        // By now m0 and m1 have died at their failpoints; kill whoever leads now.
        await waitFor(() => !m0.running && !m1.running, { timeoutMs: 20_000, message: 'failpoint leaders died' });
        const victim = await waitFor(async () => {
          const leader = await readLeader(s, paths.election);
          return [m2, m3].find((m) => m.pid === leader?.pid);
        }, { message: 'm2 or m3 leads' });
        victim.kill9();
      }
    }
    const recs = await Promise.all(ids.map((id) => client.wait(id, { timeoutMs: 60_000 })));
    expect(recs.filter((r) => r.state !== 'succeeded')).toEqual([]);
    expect(m0.text.join('\n')).toContain('failpoint leader.before-assign');
    expect(m1.text.join('\n')).toContain('failpoint leader.after-assign');
    const report = await checkOutcomes(client, s, ids, readExecLog(execLog));
    expect(report).toMatchObject({ tasks: 400, lost: [], notTerminal: [], doubleDone: [], resultWithoutExecution: [] });
    // Each committed result carries the value its payload asked for: no mix-ups between tasks.
    for (const r of recs) expect((r.result as { value: number }).value).toBe(r.payload && (r.payload as { value: number }).value);
    // No outcome committed twice: each task has one 'committed' line across all workers.
    const commits = new Map<string, number>();
    for (const w of ws) for (const l of w.lines) if (typeof l.msg === 'string' && l.msg.startsWith('committed') && typeof l.taskId === 'string') commits.set(l.taskId, (commits.get(l.taskId) ?? 0) + 1);
    expect([...commits.values()].filter((n) => n > 1)).toEqual([]);
  });

  it('worker killed right after committing (failpoint): the outcome stands and nothing runs twice for it', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const execLog = newExecLog();
    master(paths.root, 'm1');
    const w1 = worker(paths.root, 'w1', execLog, 1, { DROVER_FAILPOINTS: 'worker.after-commit=kill@2' });
    await alive(w1);
    const subs = await client.submitMany(Array.from({ length: 4 }, (_, i) => ({ type: 'work', id: `c${i}`, payload: { ms: 50 } })));
    await w1.exited;
    worker(paths.root, 'w2', execLog, 2);
    const recs = await Promise.all(subs.map((t) => client.wait(t.id, { timeoutMs: 30_000 })));
    expect(recs.every((r) => r.state === 'succeeded')).toBe(true);
    const report = await checkOutcomes(client, s, subs.map((t) => t.id), readExecLog(execLog));
    expect(report).toMatchObject({ lost: [], doubleDone: [], resultWithoutExecution: [] });
    // The two tasks w1 committed before dying were not run again.
    const byW1 = recs.filter((r) => (r.result as { pid: number }).pid === w1.pid);
    expect(byW1.length).toBe(2);
    for (const r of byW1) expect(readExecLog(execLog).filter((e) => e.taskId === r.id && e.event === 'start')).toHaveLength(1);
  });
});
