// The master's logs as a person reads them, from real `drover master` processes at debug:
// one info line per leadership (elected, following) and one warn line when deposed, with the
// reason; one join and one leave line per worker, on the leader only (a new leader does not
// log the workers it finds as joins), a leave saying how many tasks it held; a debug line per
// assignment round; nothing per task at info but reclaims.
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { readLeader } from '../shared/zk/election.js';
import { ProcessPool, type DroverProcess, type LogLine } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const procs = new ProcessPool();
const clients: DroverClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  await procs.killAll();
  await pool.closeAll();
});

const INFO = 30;
const WARN = 40;
/** Lines about who leads, at info or above. */
const leadershipLines = (p: DroverProcess) => p.lines.filter((l) => l.level >= INFO && /lead|follow|elect|stepped/i.test(l.msg));
const msgs = (ls: LogLine[]) => ls.map((l) => l.msg);
const joins = (p: DroverProcess, member: string) => p.lines.filter((l) => l.msg === 'worker joined' && (l.member as string).startsWith(`${member}~`));
const leaves = (p: DroverProcess, member: string) => p.lines.filter((l) => l.msg === 'worker left' && (l.member as string).startsWith(`${member}~`));

describe('master logs', () => {
  it('leadership, joins and leaves once each; rounds at debug; deposed once at warn with the reason', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const m1 = procs.spawn('m1', ['master', '--id', 'lm1', '--log-level', 'debug', ...g]);
    await m1.waitForLine((l) => l.msg === 'elected leader');
    const m2 = procs.spawn('m2', ['master', '--id', 'lm2', '--log-level', 'debug', ...g]);
    await m2.waitForLine((l) => l.msg === 'master following');
    const worker = (id: string, more: string[]) => procs.spawn(id, ['worker', '--id', id, ...more, ...g]);
    const stays = worker('lw-stays', ['--concurrency', '2']);
    const killed = worker('lw-killed', ['--concurrency', '2', '--labels', 'pool=k']);
    const drained = worker('lw-drained', ['--concurrency', '1']);
    for (const w of [stays, killed, drained]) await w.waitForLine((l) => l.msg === 'worker alive', 15_000, `${w.name} alive`);

    const client = await DroverClient.connect({ connectString: zkConnect(), root: paths.root });
    clients.push(client);
    const quick = await client.submitMany(Array.from({ length: 6 }, (_, i) => ({ type: 'echo', payload: i })));
    for (const q of quick) await client.wait(q.id, { timeoutMs: 15_000 });
    const held = await client.submitMany(Array.from({ length: 2 }, () => ({ type: 'sleep', payload: { ms: 60_000 }, labels: { pool: 'k' } })));
    await waitFor(async () => (await Promise.all(held.map((h) => client.get(h.id)))).every((r) => r?.state === 'running'), { timeoutMs: 15_000, message: 'held tasks running' });

    drained.signal('SIGTERM');
    await m1.waitForLine((l) => l.msg === 'worker left' && (l.member as string).startsWith('lw-drained~'), 15_000, 'drained worker left');
    killed.kill9();
    const left = await m1.waitForLine((l) => l.msg === 'worker left' && (l.member as string).startsWith('lw-killed~'), TEST_SESSION_MS + 10_000, 'killed worker left');
    expect(left).toMatchObject({ level: INFO, capacity: 2, labels: { pool: 'k' }, held: 2 });
    expect(left.types).toEqual(expect.arrayContaining(['echo', 'sleep']));
    const reclaimed = await waitFor(() => {
      const r = m1.lines.filter((l) => l.msg === 'assignment reclaimed');
      return r.length === 2 ? r : undefined;
    }, { message: 'two reclaim lines' });
    for (const r of reclaimed) expect(r).toMatchObject({ level: INFO, reason: 'worker-lost', next: 'queued' });

    // One join and one leave line per worker, on the leader; the follower logs no worker.
    for (const w of ['lw-stays', 'lw-killed', 'lw-drained']) {
      expect(joins(m1, w)).toHaveLength(1);
      expect(joins(m1, w)[0]).toMatchObject({ level: INFO, capacity: w === 'lw-drained' ? 1 : 2 });
    }
    expect(joins(m1, 'lw-killed')[0]).toMatchObject({ labels: { pool: 'k' } });
    expect(leaves(m1, 'lw-drained')).toHaveLength(1);
    expect(leaves(m1, 'lw-drained')[0]).toMatchObject({ held: 0 });
    expect(leaves(m1, 'lw-killed')).toHaveLength(1);
    expect(leaves(m1, 'lw-stays')).toHaveLength(0);
    expect(m2.lines.filter((l) => /^worker /.test(l.msg))).toEqual([]);

    // Each assignment round that looked at the queue: one debug line with what it did.
    const rounds = m1.lines.filter((l) => l.msg === 'assignment round');
    expect(rounds.length).toBeGreaterThan(0);
    for (const r of rounds) expect(r).toMatchObject({ level: 20, considered: expect.any(Number), placed: expect.any(Number), perWorker: expect.any(Object), ms: expect.any(Number) });
    expect(rounds.reduce((n, r) => n + (r.placed as number), 0)).toBe(8);
    // Nothing per task at info on the master but the reclaims.
    const perTask = m1.lines.filter((l) => l.level >= INFO && typeof l.taskId === 'string');
    expect(msgs(perTask).every((m) => m === 'assignment reclaimed')).toBe(true);

    // The leader's candidate node deleted by hand: deposed, said once at warn with why; the follower leads.
    const leader = await readLeader(s, paths.election);
    expect(leader?.id).toBe('lm1');
    await s.remove(leader!.path);
    const down = await m1.waitForLine((l) => l.msg === 'stepped down', 15_000, 'm1 stepped down');
    expect(down).toMatchObject({ level: WARN, reason: 'candidate node vanished' });
    await m2.waitForLine((l) => l.msg === 'elected leader', 15_000, 'm2 leads');
    await m1.waitForLine((l) => l.msg === 'master following' && l.leader === 'lm2', 15_000, 'm1 follows m2');
    // The new leader does not log the worker it found as a join; it logs the next one that comes.
    const late = worker('lw-late', ['--concurrency', '1']);
    await m2.waitForLine((l) => l.msg === 'worker joined' && (l.member as string).startsWith('lw-late~'), 15_000, 'late join on m2');
    expect(joins(m2, 'lw-stays')).toHaveLength(0);
    expect(joins(m2, 'lw-late')).toHaveLength(1);
    expect(joins(m1, 'lw-late')).toHaveLength(0);
    late.signal('SIGTERM');

    // Leadership: m1 elected, stepped down, following; m2 following, elected. Each once.
    expect(msgs(leadershipLines(m1))).toEqual(['elected leader', 'stepped down', 'master following']);
    expect(msgs(leadershipLines(m2))).toEqual(['master following', 'elected leader']);
    expect(leadershipLines(m1)[0]).toMatchObject({ epoch: expect.any(Number), workers: expect.any(Number), held: expect.any(Number) });
    expect(leadershipLines(m2)[0]).toMatchObject({ leader: 'lm1', leaderEpoch: leadershipLines(m1)[0]!.epoch });
  }, 60_000);
});
