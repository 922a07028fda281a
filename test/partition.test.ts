// A worker process cut from ZooKeeper by a real TCP proxy past its session timeout, then
// healed: its stale commit is fenced and the task's outcome is the other attempt's, also when
// the task went back to the same worker name after it re-registered.
import { afterEach, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { ProcessPool, type DroverProcess } from './harness/processes.js';
import { RECORDING_HANDLERS, checkOutcomes, newExecLog, readExecLog } from './harness/exec-log.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const procs = new ProcessPool();
const proxies: TcpProxy[] = [];
afterEach(async () => {
  await procs.killAll();
  for (const p of proxies.splice(0)) await p.stop();
  await pool.closeAll();
});

async function proxy(): Promise<TcpProxy> {
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const p = await TcpProxy.start(host!, Number(port));
  proxies.push(p);
  return p;
}

function worker(zk: string, root: string, id: string, execLog: string): DroverProcess {
  return procs.spawn(id, ['worker', '--id', id, '--concurrency', '2', '--handlers', RECORDING_HANDLERS, '--zk', zk, '--root', root, '--session-timeout', String(TEST_SESSION_MS)], {
    DROVER_EXEC_LOG: execLog,
  });
}
const alive = (p: DroverProcess) => p.waitForLine((l) => l.msg === 'worker alive', 15_000, `${p.name} alive`);
const fencedLine = (taskId: string, attempt: number) => (l: { msg: string; taskId?: unknown; attempt?: unknown }) =>
  l.msg.startsWith('commit fenced') && l.taskId === taskId && l.attempt === attempt;

describe('partitioned worker', () => {
  it('fails to commit its stale result; the outcome is the one from the other worker', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const execLog = newExecLog();
    procs.spawn('m1', ['master', '--id', 'm1', '--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)]);
    const cut = await proxy();
    const wa = worker(cut.connectString, paths.root, 'wa', execLog);
    await alive(wa);
    // The handler ignores its abort signal: it will finish and try to commit after the cut.
    const { id } = await client.submit({ type: 'work', id: 'p1', payload: { ms: 2500, ignoreAbort: true } });
    await waitFor(() => readExecLog(execLog).some((e) => e.taskId === id && e.pid === wa.pid), { message: 'wa runs p1' });
    cut.cut('blackhole');
    const wb = worker(zkConnect(), paths.root, 'wb', execLog);
    await alive(wb);
    // wa's session expires; the leader takes p1 back and wb runs attempt 2.
    const rec = await client.wait(id, { timeoutMs: 20_000 });
    expect(rec).toMatchObject({ state: 'succeeded', attempt: 2 });
    expect((rec.result as { pid: number }).pid).toBe(wb.pid);
    cut.heal();
    // wa's attempt 1 finished during the cut; once healed its commit is refused by the fence.
    await wa.waitForLine(fencedLine(id, 1), 20_000, 'wa fenced');
    await waitFor(() => readExecLog(execLog).some((e) => e.event === 'end' && e.taskId === id && e.pid === wa.pid), { message: 'wa finished its stale run' });
    const after = await client.get(id);
    expect(after).toMatchObject({ state: 'succeeded', attempt: 2, result: rec.result });
    const report = await checkOutcomes(client, s, [id], readExecLog(execLog));
    expect(report).toMatchObject({ doubleDone: [], resultWithoutExecution: [], duplicateExecutions: 1 });
  });

  it('also when the task went back to the same worker name after it re-registered', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const execLog = newExecLog();
    procs.spawn('m1', ['master', '--id', 'm1', '--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)]);
    const cut = await proxy();
    const wa = worker(cut.connectString, paths.root, 'wa', execLog);
    await alive(wa);
    const firstMember = (await client.status()).workers[0]!.name;
    // Attempt 1 runs long and ignores its signal; attempt 2 (same payload) runs long too, so
    // the stale attempt 1 finishes first, while attempt 2 is assigned and running.
    const { id } = await client.submit({ type: 'work', id: 'p2', payload: { ms: 3500, ignoreAbort: true } });
    await waitFor(() => readExecLog(execLog).some((e) => e.taskId === id && e.attempt === 1), { message: 'attempt 1 runs' });
    cut.cut('blackhole');
    // The leader sees wa's incarnation vanish and re-queues p2 (attempt 2 waits for a worker).
    await waitFor(async () => (await client.get(id))?.state === 'queued', { timeoutMs: 15_000, message: 'p2 re-queued' });
    cut.heal();
    // wa comes back under a new incarnation of the same name and gets p2 again, as attempt 2.
    await waitFor(() => readExecLog(execLog).some((e) => e.taskId === id && e.attempt === 2 && e.event === 'start'), {
      timeoutMs: 15_000,
      message: 'attempt 2 runs on wa again',
    });
    const status = await client.status();
    expect(status.workers.map((w) => w.id)).toEqual(['wa']);
    expect(status.workers[0]!.name).not.toBe(firstMember);
    await wa.waitForLine(fencedLine(id, 1), 20_000, 'stale attempt 1 fenced');
    const rec = await client.wait(id, { timeoutMs: 20_000 });
    expect(rec).toMatchObject({ state: 'succeeded', attempt: 2 });
    expect((rec.result as { attempt: number }).attempt).toBe(2);
    expect(rec.worker).toBe(status.workers[0]!.name);
    const report = await checkOutcomes(client, s, [id], readExecLog(execLog));
    expect(report).toMatchObject({ doubleDone: [], resultWithoutExecution: [] });
  });
});
