// Election and membership with real processes: `drover master` and `drover worker` killed
// with SIGKILL or stopped with SIGTERM, observed through ZooKeeper.
import { afterEach, describe, expect, it } from 'vitest';
import { readLeader } from '../shared/zk/election.js';
import { MembershipObserver } from '../shared/zk/membership.js';
import { ProcessPool, type DroverProcess } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const procs = new ProcessPool();
const stopObservers: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stopObservers.splice(0)) stop();
  await procs.killAll();
  await pool.closeAll();
});

const common = (root: string) => ['--zk', zkConnect(), '--root', root, '--session-timeout', String(TEST_SESSION_MS)];
const elected = (l: { msg: string }) => l.msg === 'elected leader';

async function startMasters(root: string, n: number): Promise<DroverProcess[]> {
  const ms: DroverProcess[] = [];
  for (let i = 0; i < n; i++) {
    const p = procs.spawn(`m${i}`, ['master', '--id', `m${i}`, ...common(root)]);
    await p.waitForLine((l) => l.msg === 'master following' || elected(l), 15_000, `m${i} started`);
    ms.push(p);
  }
  return ms;
}

describe('master failover with real processes', () => {
  it('kill -9 of the leading process: another leads within the session timeout + 1 s', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const masters = await startMasters(paths.root, 3);
    const leader = await waitFor(async () => readLeader(s, paths.election), { message: 'a leader' });
    const victim = masters.find((m) => m.pid === leader.pid)!;
    expect(victim.hasLine(elected)).toBe(true);

    const killedAt = Date.now();
    victim.kill9();
    const others = masters.filter((m) => m !== victim);
    const line = await waitFor(() => others.map((m) => m.lines.find((l) => elected(l) && l.time >= killedAt)).find(Boolean), {
      timeoutMs: TEST_SESSION_MS + 5000,
      intervalMs: 10,
      message: 'a new leader',
    });
    const takeover = line.time - killedAt;
    console.log(`[measure] kill -9 takeover: ${takeover} ms (session timeout ${TEST_SESSION_MS} ms)`);
    expect(takeover).toBeLessThan(TEST_SESSION_MS + 1000);
    // Exactly one of the survivors leads.
    expect(others.filter((m) => m.hasLine(elected)).length).toBe(1);
  });

  it('graceful stop (SIGTERM) of the leader: the next leads within 1 s', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const masters = await startMasters(paths.root, 2);
    await masters[0]!.waitForLine(elected);
    const stoppedAt = Date.now();
    masters[0]!.signal('SIGTERM');
    const line = await masters[1]!.waitForLine((l) => elected(l) && l.time >= stoppedAt, 5000);
    const takeover = line.time - stoppedAt;
    console.log(`[measure] graceful takeover: ${takeover} ms`);
    expect(takeover).toBeLessThan(1000);
    expect(await masters[0]!.waitExit()).toBe(0);
  });
});

describe('worker membership with real processes', () => {
  it('workers appear and disappear (kill -9 included) within the session timeout + 1 s; a restarted name is a new incarnation', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const observer = new MembershipObserver(s, paths, testLog);
    await observer.start();
    const left: Array<{ name: string; at: number }> = [];
    observer.on('leave', (name) => left.push({ name, at: Date.now() }));
    stopObservers.push(() => observer.stop());

    const spawnWorker = (id: string) => procs.spawn(id, ['worker', '--id', id, '--concurrency', '2', ...common(paths.root)]);
    const w1 = spawnWorker('w1');
    const w2 = spawnWorker('w2');
    const view = () => observer.members().filter((m) => m.state === 'alive');
    await waitFor(() => view().length === 2, { message: 'two alive workers' });
    const w1first = view().find((m) => m.id === 'w1')!;
    expect(w1first.capacity).toBe(2);
    expect(w1first.pid).toBe(w1.pid);

    // kill -9: gone from the view within the session timeout + 1 s.
    const killedAt = Date.now();
    w2.kill9();
    await waitFor(() => left.find((l) => l.name.startsWith('w2~')), { timeoutMs: TEST_SESSION_MS + 3000, intervalMs: 10, message: 'w2 left' });
    const gone = left.find((l) => l.name.startsWith('w2~'))!.at - killedAt;
    console.log(`[measure] kill -9 worker gone from view: ${gone} ms`);
    expect(gone).toBeLessThan(TEST_SESSION_MS + 1000);

    // Restart w1 under the same name at once: its old session still lives for a while.
    w1.kill9();
    const w1again = spawnWorker('w1');
    await waitFor(() => view().find((m) => m.id === 'w1' && m.pid === w1again.pid), { message: 'restarted w1 registered' });
    const incarnations = observer.members().filter((m) => m.id === 'w1');
    const fresh = incarnations.find((m) => m.pid === w1again.pid)!;
    expect(fresh.name).not.toBe(w1first.name);
    // The old incarnation goes when its session expires; the new one stays.
    await waitFor(() => left.some((l) => l.name === w1first.name), { timeoutMs: TEST_SESSION_MS + 3000, message: 'old w1 incarnation gone' });
    expect(observer.get(fresh.name)?.state).toBe('alive');

    // A graceful stop removes the member at once.
    const stoppedAt = Date.now();
    w1again.signal('SIGTERM');
    expect(await w1again.waitExit()).toBe(0);
    await waitFor(() => left.find((l) => l.name === fresh.name), { timeoutMs: 2000, message: 'drained worker left' });
    expect(left.find((l) => l.name === fresh.name)!.at - stoppedAt).toBeLessThan(2000);
  });
});
