// Leader election against a real ZooKeeper: one leader at a time, succession in sequence
// order, no herd, graceful handoff, and a leader whose session expires is fenced.
import { afterEach, describe, expect, it } from 'vitest';
import { LeaderElection, candidateSeq, listCandidates, readLeader, type LeaderHandle } from '../shared/zk/election.js';
import { NoNodeError } from '../shared/zk/errors.js';
import { ZkSession } from '../shared/zk/session.js';
import type { Paths } from '../shared/protocol/paths.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, freshLayout, testLog, uniqueRoot, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';
import { pino } from 'pino';
import { layoutGone } from '../shared/protocol/layout-gone.js';
import { destroyRoot } from '../client/admin-destroy.js';

const pool = new SessionPool();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pool.closeAll();
});

interface Candidate {
  name: string;
  session: ZkSession;
  election: LeaderElection;
}

async function candidates(paths: Paths, n: number): Promise<Candidate[]> {
  const out: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const session = await pool.open();
    const election = new LeaderElection(session, paths.election, `c${i}`, testLog);
    cleanups.push(() => election.stop());
    election.start();
    // Join one by one so the sequence order is c0 < c1 < ...
    await waitFor(() => election.role === 'leader' || election.role === 'follower', { message: `c${i} joined` });
    out.push({ name: `c${i}`, session, election });
  }
  return out;
}

/** Samples roles every few ms and records any instant with two leaders. */
function watchForSplitBrain(cands: Candidate[]): { stop: () => void; violations: number; leaders: string[] } {
  const state = { violations: 0, leaders: [] as string[], stop: () => {} };
  const sample = () => {
    const leading = cands.filter((c) => c.election.isLeader);
    if (leading.length > 1) state.violations++;
    const l = leading[0]?.name;
    if (l && state.leaders[state.leaders.length - 1] !== l) state.leaders.push(l);
  };
  sample();
  // Every role change is sampled as it happens (a leader's short tenure can fall between two
  // interval samples on a loaded machine), the interval catches anything in between.
  for (const c of cands) c.election.on('role', sample);
  const t = setInterval(sample, 2);
  // One last sample at the end: the condition that ended the test may have come between two.
  state.stop = () => {
    clearInterval(t);
    for (const c of cands) c.election.off('role', sample);
    sample();
  };
  return state;
}

describe('leader election', () => {
  it('three candidates: exactly one leader at any instant; succession follows the sequence numbers', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const cands = await candidates(paths, 3);
    const watch = watchForSplitBrain(cands);
    expect(cands.map((c) => c.election.role)).toEqual(['leader', 'follower', 'follower']);
    const epochs = cands.map((c) => candidateSeq(c.election.candidatePath!.split('/').pop()!));
    expect([...epochs].sort((a, b) => a - b)).toEqual(epochs);

    await cands[0]!.election.stop();
    await waitFor(() => cands[1]!.election.isLeader, { message: 'c1 leads after c0' });
    expect(cands[2]!.election.isLeader).toBe(false);
    await cands[1]!.election.stop();
    await waitFor(() => cands[2]!.election.isLeader, { message: 'c2 leads after c1' });
    watch.stop();
    expect(watch.violations).toBe(0);
    expect(watch.leaders).toEqual(['c0', 'c1', 'c2']);
  });

  it('graceful stop of the leader: the next leads within 1 s', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const cands = await candidates(paths, 2);
    const t0 = Date.now();
    await cands[0]!.election.stop();
    await waitFor(() => cands[1]!.election.isLeader, { timeoutMs: 1000, intervalMs: 5, message: 'successor within 1 s' });
    const took = Date.now() - t0;
    expect(took).toBeLessThan(1000);
  });

  it('no herd effect: the death of a non-leader wakes only its successor', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const cands = await candidates(paths, 5);
    const before = cands.map((c) => c.election.watchEvents);
    expect(before).toEqual([0, 0, 0, 0, 0]);
    await cands[2]!.session.close(); // c2 dies (its ephemeral goes at once)
    await waitFor(() => cands[3]!.election.watchEvents === 1, { message: 'c3 woken' });
    // Give any stray watch a chance to fire: c3 re-armed on c1 proves the handoff completed.
    await waitFor(() => cands[3]!.election.role === 'follower', { message: 'c3 follows c1' });
    const probe = await s.exists(`${paths.election}/${cands[1]!.election.candidatePath!.split('/').pop()}`);
    expect(probe).not.toBeNull();
    expect(cands.map((c) => c.election.watchEvents)).toEqual([0, 0, 0, 1, 0]);
    expect(cands[0]!.election.isLeader).toBe(true);
  });

  it('session expiry of the leader: it steps down, its fenced multi fails, another leads', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    cleanups.push(() => proxy.stop());
    const leaderSession = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 1200, log: testLog });
    cleanups.push(() => leaderSession.close());
    const old = new LeaderElection(leaderSession, paths.election, 'old', testLog);
    cleanups.push(() => old.stop());
    const handles: LeaderHandle[] = [];
    old.on('leader', (h) => handles.push(h));
    const deposed: string[] = [];
    old.on('deposed', (r) => deposed.push(r));
    old.start();
    await waitFor(() => old.isLeader, { message: 'old leads' });
    const [other] = await candidates(paths, 1);
    expect(other!.election.role).toBe('follower');
    const oldHandle = handles[0]!;
    await s.create(`${paths.root}/guarded`, Buffer.from('0'));

    proxy.cut('blackhole');
    await waitFor(() => deposed.length > 0, { timeoutMs: 10_000, message: 'old leader steps down' });
    expect(old.isLeader).toBe(false);
    await waitFor(() => other!.election.isLeader, { timeoutMs: 10_000, message: 'other leads' });

    // The deposed leader's write, fenced by its old handle, is refused by the server.
    const err = await s.multi([oldHandle.fence(), { op: 'setData', path: `${paths.root}/guarded`, data: Buffer.from('stale') }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoNodeError);
    expect((err as NoNodeError).opIndex).toBe(0);
    expect((await s.getData(`${paths.root}/guarded`)).data.toString()).toBe('0');
    // After the heal it rejoins behind the new leader.
    proxy.heal();
    await waitFor(() => old.role === 'follower', { timeoutMs: 10_000, message: 'old rejoins as follower' });
    expect(other!.election.isLeader).toBe(true);
  });
});

describe('leftover candidate nodes', () => {
  it('a node of our own session left ahead of our candidacy is deleted, and we lead', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    // A candidacy whose delete failed, or a create tried twice: a node of this session,
    // lower than the one the election makes. Nobody acts on it; we must not wait behind it.
    const leftover = await s.create(`${paths.election}/c_${s.sessionId}_`, Buffer.from('{}'), 'ephemeral_sequential');
    const election = new LeaderElection(s, paths.election, 'me', testLog);
    cleanups.push(() => election.stop());
    election.start();
    await waitFor(() => election.isLeader, { timeoutMs: 5000, message: 'leads past its own leftover node' });
    expect(await s.exists(leftover)).toBeNull();
    expect(election.candidatePath).not.toBe(leftover);
  });
});

describe('a plain directory', () => {
  it('the recipe needs only a directory: no drover layout, and readLeader/listCandidates read it', async () => {
    const s = await pool.open();
    const dir = `${uniqueRoot('plain')}/some/leader`;
    await s.mkdirp(dir);
    const a = new LeaderElection(s, dir, 'a', testLog);
    cleanups.push(() => a.stop());
    a.start();
    await waitFor(() => a.isLeader, { message: 'a leads' });
    const other = await pool.open();
    const b = new LeaderElection(other, dir, 'b', testLog);
    cleanups.push(() => b.stop());
    b.start();
    await waitFor(() => b.role === 'follower', { message: 'b follows' });
    expect((await readLeader(s, dir))?.id).toBe('a');
    expect((await listCandidates(s, dir)).map((c) => c.id)).toEqual(['a', 'b']);
    expect(a.candidatePath!.startsWith(`${dir}/c_${s.sessionId}_`)).toBe(true);
    // Nothing else was made: the directory holds the candidates only.
    expect((await s.getChildren(dir)).children).toHaveLength(2);
    await a.stop();
    await waitFor(() => b.isLeader, { message: 'b leads after a' });
  });
});

describe('a directory removed by admin destroy', () => {
  it("a candidate that read the layout before the tombstone stops with openLayout's line, not a retry loop", async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const root = paths.root;
    const warned: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void warned.push(l) });
    const gone = (session: ZkSession) => {
      const e = new LeaderElection(session, paths.election, 'm', log, { whenDirGone: () => layoutGone(session, root) });
      cleanups.push(() => e.stop());
      const said = new Promise<Error>((r) => e.once('gone', r));
      e.start();
      return { e, said };
    };
    // destroy's first multi, by hand: the tombstone made as the layout, election and workers go.
    const tomb = JSON.stringify({ shards: paths.shards, createdAt: Date.now(), since: Date.now() });
    await s.multi([
      { op: 'create', path: paths.destroying, data: Buffer.from(tomb) },
      { op: 'remove', path: paths.layout },
      { op: 'remove', path: paths.election },
      { op: 'remove', path: paths.workers },
    ]);
    const a = gone(s);
    expect((await a.said).message).toBe(`${root} is being destroyed; finish with drover admin destroy --root ${root} --yes`);
    expect(a.e.role).toBe('stopped');
    // Destroy finished: nothing left under the root, the same candidate says so.
    await destroyRoot(s, root);
    const b = gone(await pool.open());
    expect((await b.said).message).toBe(`no drover cluster under ${root} (its layout is gone)`);
    expect(warned.filter((l) => l.includes('election check failed'))).toEqual([]);
  });
});
