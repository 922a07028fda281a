// The leader's queue at scale, on a ZooKeeper of its own (1 GB heap): what a round costs must
// not grow with the backlog. Asserted on work done, not on wall-clock (the figures are
// printed): with no free slot a round reads nothing at all (no listing, no record) however
// many are queued, changes reach the index through the tree watch alone, and dispatching
// does the same work per task with 100 000 queued as with 10 000. A new leader with 100 000
// queued assigns before its listing of the queue is done.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Leadership } from '../master/leadership.js';
import type { Paths } from '../shared/protocol/paths.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { submitOps } from '../shared/protocol/task-ops.js';
import { newTaskRecord } from '../shared/protocol/task-record.js';
import { zkCounters } from '../shared/zk/counters.js';
import { LeaderElection, type LeaderHandle } from '../shared/zk/election.js';
import type { ZkSession } from '../shared/zk/session.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/local-server.js';
import { Worker } from '../worker/worker.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, testLog, uniqueRoot } from './harness/zk.js';

let server: LocalZkServer | undefined;
const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
beforeAll(async () => {
  // No fsync per transaction: filling the queue is what takes time here, not what is measured.
  server = await startLocalServer({ sizing: 'bench', extraConfig: { forceSync: 'no' } });
}, 60_000);
afterAll(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  await pool.closeAll();
  await server?.stop();
});

const open = () => pool.open({ connectString: server!.connectString, sessionTimeoutMs: 4000 });

/** `n` queued echo tasks, oldest first by id (q0 is the oldest), in pipelined multis. */
async function populate(session: ZkSession, paths: Paths, n: number, prefix: string): Promise<void> {
  const base = Date.now() - n;
  const PER = 400;
  let inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i += PER) {
    const ops = [];
    for (let k = i; k < Math.min(n, i + PER); k++) ops.push(...submitOps(paths, newTaskRecord({ type: 'echo', id: `${prefix}${k}`, payload: null }, undefined, base + k)));
    inFlight.push(session.multi(ops));
    if (inFlight.length >= 8) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
}

/** Wins the election on `session` and leads with a Leadership (started); `won`: when the election was won. */
async function lead(session: ZkSession, paths: Paths, onAssigned?: (l: Leadership) => void) {
  const election = new LeaderElection(session, paths.election, 'm1', testLog);
  const handle = await new Promise<LeaderHandle>((resolve) => {
    election.once('leader', resolve);
    election.start();
  });
  const won = Date.now();
  const leadership = new Leadership(session, paths, handle, { retentionMs: 86_400_000, retentionIntervalMs: 60_000, timeoutGraceMs: 5000, assignBatch: 100 }, testLog);
  const stop = async () => {
    await leadership.stop();
    await election.stop();
  };
  stops.push(stop);
  let assigned = 0;
  leadership.on('assigned', (n) => {
    if (assigned === 0) onAssigned?.(leadership);
    assigned += n;
  });
  await leadership.start();
  return { leadership, won, startedMs: Date.now() - won, assigned: () => assigned, stop };
}

async function addWorker(paths: Paths, id: string, concurrency: number): Promise<Worker> {
  const w = new Worker({ session: await open(), root: paths.root, id, concurrency, log: testLog, gracePeriodMs: 1000 });
  stops.push(() => w.stop());
  await w.start();
  return w;
}

/** Reads and listings since `from` (any session of this process). */
const readsSince = (from: Record<string, number>) =>
  ['getData', 'getChildren', 'getChildren2', 'multiRead', 'exists'].reduce((n, k) => n + (zkCounters.byKind[k] ?? 0) - (from[k] ?? 0), 0);

const BIG = 100_000;
let bigRoot: { session: ZkSession; paths: Paths } | undefined;

describe('the leader with a big queue', () => {
  it(`takes over with ${BIG.toLocaleString('en')} queued and assigns before its listing of the queue is done`, async () => {
    const session = await open();
    const paths = await ensureLayout(session, uniqueRoot('big'), 256);
    const t0 = Date.now();
    await populate(session, paths, BIG, 'q');
    const populateMs = Date.now() - t0;
    bigRoot = { session, paths };
    // A worker is there first: members and assignments are all the leader waits for.
    const worker = await addWorker(paths, 'w1', 64);
    let atFirst: ReturnType<Leadership['queueState']> | undefined;
    let firstAt = 0;
    const l = await lead(await open(), paths, (leadership) => {
      firstAt = Date.now();
      atFirst = leadership.queueState();
    });
    await waitFor(() => l.leadership.queueState().firstListedAt !== null, { timeoutMs: 20_000, message: 'the first full listing' });
    const q = l.leadership.queueState();
    console.log(
      `[measure] take-over with ${BIG} queued (populated in ${populateMs} ms): started (members and assignments read) ${l.startedMs} ms, first assignment ${firstAt - l.won} ms after winning ` +
        `(${atFirst?.size} entries indexed, ${atFirst?.shardsListed}/256 shards listed); full listing ${q.firstListedAt! - l.won} ms after winning`,
    );
    expect(atFirst).toBeDefined();
    expect(atFirst!.listing).toBe(true);
    expect(atFirst!.size).toBeLessThan(BIG);
    expect(firstAt).toBeLessThan(q.firstListedAt!);
    await worker.stop();
    await l.stop();
  }, 90_000);

  it('a round with no free slot reads nothing, and dispatch costs the same per task at 10 000 and 100 000 queued', async () => {
    const small = await open();
    const smallPaths = await ensureLayout(small, uniqueRoot('small'), 256);
    await populate(small, smallPaths, 10_000, 'q');
    const roots = [
      { label: '10 000', ...{ session: small, paths: smallPaths } },
      { label: '100 000', ...bigRoot! },
    ];
    const figures: Array<{ label: string; queued: number; requestsPerTask: number; takenPerTask: number; rate: number }> = [];
    for (const r of roots) {
      // A leader with no worker at all: no free slot.
      const l = await lead(await open(), r.paths);
      await waitFor(() => l.leadership.queueState().firstListedAt !== null, { timeoutMs: 20_000, message: 'the first full listing' });
      const queued = l.leadership.queueState().size;
      const before = l.leadership.queueState();
      const kinds = { ...zkCounters.byKind };
      // 400 new tasks: 400 events, rounds kicked by them, each ending at once.
      const extra = Array.from({ length: 400 }, (_, k) => ({ type: 'echo', id: `extra-${k}` }));
      for (let i = 0; i < extra.length; i += 100) {
        const ops = extra.slice(i, i + 100).flatMap((t) => submitOps(r.paths, newTaskRecord(t)));
        await r.session.multi(ops);
      }
      await waitFor(() => l.leadership.queueState().size === queued + 400, { message: 'the new entries indexed through events' });
      const after = l.leadership.queueState();
      expect(after.rounds.rounds).toBeGreaterThan(before.rounds.rounds);
      expect(after.rounds.noFreeSlot - before.rounds.noFreeSlot).toBe(after.rounds.rounds - before.rounds.rounds);
      expect(after.stats.listedNames).toBe(before.stats.listedNames);
      expect(after.stats.taken).toBe(before.stats.taken);
      expect(after.stats.created - before.stats.created).toBe(400);
      expect(readsSince(kinds)).toBe(0);

      // Now one worker x 64 (echo): dispatch DISPATCH tasks, the oldest first.
      const DISPATCH = 3000;
      const requests = zkCounters.requests;
      const taken = l.leadership.queueState().stats.taken;
      const t0 = Date.now();
      const worker = await addWorker(r.paths, `w-${r.label.replace(/ /g, '')}`, 64);
      await waitFor(() => l.assigned() >= DISPATCH, { timeoutMs: 30_000, message: `${DISPATCH} assigned` });
      const ms = Date.now() - t0;
      const n = l.assigned();
      figures.push({
        label: r.label,
        queued,
        requestsPerTask: (zkCounters.requests - requests) / n,
        takenPerTask: (l.leadership.queueState().stats.taken - taken) / n,
        rate: (n / ms) * 1000,
      });
      await worker.stop();
      await l.stop();
    }
    console.log(
      '[measure] ' +
        figures
          .map((f) => `${f.label} queued (${f.queued}): ${Math.round(f.rate)} tasks/s assigned, ${f.requestsPerTask.toFixed(2)} requests/task (all sessions), ${f.takenPerTask.toFixed(2)} entries taken/task`)
          .join('; '),
    );
    const [few, many] = figures as [(typeof figures)[0], (typeof figures)[0]];
    // The same work per task: each entry taken about once, and requests per task not growing with the backlog.
    for (const f of figures) expect(f.takenPerTask).toBeLessThan(1.2);
    expect(many.requestsPerTask).toBeLessThan(few.requestsPerTask * 1.3 + 0.1);
  }, 120_000);
});
