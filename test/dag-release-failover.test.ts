// The leader killed -9 (a real master process) while it releases the dependents of a finished
// parent; a second master takes over, rebuilds from dag/waiting and releases the rest: every
// child runs exactly once, none is lost, none is released twice.
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { readLeader } from '../shared/zk/election.js';
import { submitDag } from './harness/dag-tasks.js';
import { OP, OpProxy } from './harness/op-proxy.js';
import { RECORDING_HANDLERS, checkOutcomes, newExecLog, readExecLog } from './harness/exec-log.js';
import { ProcessPool, type DroverProcess } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const procs = new ProcessPool();
let proxy: OpProxy | null = null;
afterAll(async () => {
  await procs.killAll();
  await proxy?.stop();
  await pool.closeAll();
});

// Three release multis of 100: the first committed by m1, the second held at the proxy when m1 dies.
const CHILDREN = 300;

describe('dependency release across a leader failover', () => {
  it('the leader killed -9 mid-release: every child runs once, none lost', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const dag = new DagPaths(paths);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const execLog = newExecLog();
    const common = ['--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const master = (id: string, zk = zkConnect()): DroverProcess => procs.spawn(id, ['master', '--id', id, '--zk', zk, ...common]);
    // m1 reaches ZooKeeper through a proxy that holds its second release multi: the kill lands mid-release.
    proxy = await OpProxy.start(zkConnect());
    const m1 = master('m1', proxy.connectString);
    await m1.waitForLine((l) => l.msg === 'elected leader');
    expect((await readLeader(s, paths.election))?.pid).toBe(m1.pid);
    // Parent and children first, registered by m1 while no worker can run the parent yet.
    const kids = Array.from({ length: CHILDREN }, (_, i) => `fo-c${i}`);
    await submitDag(s, paths, [{ id: 'fo-p', type: 'work', payload: { ms: 20 } }, ...kids.map((id) => ({ id, type: 'work', payload: { ms: 1 }, dependsOn: ['fo-p'] }))]);
    // Release multis (the only multis of m1 that remove waiting entries): the first goes
    // through, the second is held, and m1 is killed with it unsent.
    const release = { op: OP.multi, contains: `${dag.waitingDir}/` };
    const first = proxy.holdFrom(release);
    // Then the worker (the parent runs, m1 releases its children in multis of 100) and a second master.
    const w = procs.spawn('w1', ['worker', '--id', 'w1', '--concurrency', '64', '--handlers', RECORDING_HANDLERS, '--grace', '2000', '--zk', zkConnect(), ...common], { DROVER_EXEC_LOG: execLog });
    const m2 = master('m2');
    await first;
    const second = proxy.holdFrom(release);
    proxy.release();
    await second;
    m1.kill9();
    expect(w.running).toBe(true);
    await m1.exited;
    const listed = await s.getChildrenMany(paths.shardNames.map((sh) => dag.waitingShard(sh)));
    const left = listed.reduce((n, r) => n + (r.ok ? r.children.length : 0), 0);
    // Killed mid-release: one multi of children released by m1, the rest left to m2.
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(CHILDREN);
    expect(proxy.heldCount(OP.multi)).toBeGreaterThanOrEqual(1); // the second never reached ZooKeeper

    await m2.waitForLine((l) => l.msg === 'elected leader', 10_000);
    expect(m1.hasLine((l) => l.msg === 'elected leader')).toBe(true);
    const recs = await Promise.all(kids.map((id) => client.wait(id, { timeoutMs: 12_000 })));
    expect(recs.filter((r) => r.state !== 'succeeded').map((r) => r.id)).toEqual([]);
    for (const r of recs) {
      expect(r.attempt).toBe(1);
      expect(r.history ?? []).toHaveLength(1);
    }
    const execs = readExecLog(execLog);
    const starts = new Map<string, number>();
    for (const e of execs) if (e.event === 'start') starts.set(e.taskId, (starts.get(e.taskId) ?? 0) + 1);
    expect(kids.filter((id) => starts.get(id) !== 1)).toEqual([]);
    const report = await checkOutcomes(client, s, ['fo-p', ...kids], execs);
    expect(report).toMatchObject({ lost: [], notTerminal: [], doubleDone: [], resultWithoutExecution: [], duplicateExecutions: 0 });
    // Nothing is left waiting.
    const after = await s.getChildrenMany(paths.shardNames.map((sh) => dag.waitingShard(sh)));
    expect(after.reduce((n, r) => n + (r.ok ? r.children.length : 0), 0)).toBe(0);
    console.log(`[measure] leader killed with ${left} of ${CHILDREN} children still waiting; m2 released them`);
  });
});
