// Marking a burst running (worker/start-batch.ts), against a real ZooKeeper: a batch refused
// for one item gives that item its verdict and re-batches the rest (K bad items, K+1 multis;
// counted by the server as the session's last xid), and a batch whose outcome is unknown is
// read back once, together, then only what did not go through goes again.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { cancelOps, type VersionedRecord } from '../shared/protocol/task-ops.js';
import { zkCounters, type ZkSession } from '../shared/zk/session.js';
import { newAttempt, type Attempt } from '../worker/attempt.js';
import { markStarted } from '../worker/start-batch.js';
import { VerifyReads } from '../worker/verify-reads.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, freshLayout, testLog, zkConnect } from './harness/zk.js';
import { readRecord } from './harness/worker-fixture.js';
import { assignBurst, quietXid } from './harness/worker-helpers.js';
import { countReads } from './harness/worker-read-tools.js';
import { waitFor } from './harness/wait-for.js';

const MEMBER = 'm~00000000000000dd';
const pool = new SessionPool();
let session: ZkSession;
let paths: Paths;
const attempts: Attempt[] = [];
beforeEach(async () => {
  session = await pool.open();
  paths = await freshLayout(session);
  return async () => {
    for (const a of attempts.splice(0)) a.progress.close();
    await pool.closeAll();
  };
});

/** The worker's view of each assigned task: an attempt as the runner makes it. */
function held(ws: ZkSession, tasks: VersionedRecord[]): Attempt[] {
  const list = tasks.map((t) =>
    newAttempt(ws, paths.assignment(MEMBER, t.record.id, 1), MEMBER, t, { taskId: t.record.id, attempt: 1 }, 1024, testLog),
  );
  attempts.push(...list);
  return list;
}

const starts = (ws: ZkSession, list: Attempt[]) => markStarted({ tx: { session: ws, paths }, reads: new VerifyReads(ws, paths), log: testLog }, list);

describe('start batch', () => {
  it('refused for one fenced and one moved item: each gets its verdict, the rest start together', async () => {
    const tasks = await assignBurst(session, paths, MEMBER, Array.from({ length: 8 }, (_, i) => ({ type: 'echo', payload: i })));
    // One cancelled (its assignment gone), one's record bumped under us (still ours).
    await session.multi(cancelOps(paths, tasks[2]!, 'cancelled by test', Date.now()).ops);
    const bumped = tasks[5]!;
    await session.setData(paths.task(bumped.record.id), Buffer.from(JSON.stringify(bumped.record)), bumped.version);
    const ws = await pool.open();
    await ws.exists(paths.root); // a first request: the server's last xid counts from it
    const before = await quietXid(ws, 100);
    const list = held(ws, tasks);
    expect(await starts(ws, list)).toEqual(['started', 'started', 'stale', 'started', 'started', 'started', 'started', 'started']);
    // Refused at 2, refused at 5, the 6 others; then 5 alone: read back, started. Was 10: the
    // refused batch, then 7 starts one by one, and 5's refusal read back and sent again.
    expect((await quietXid(ws, 100)) - before).toBe(5);
    for (const [i, t] of tasks.entries()) {
      const now = await readRecord(session, paths, t.record.id);
      if (i === 2) {
        expect(now.record.state).toBe('cancelled');
        continue;
      }
      // submitted v0, assigned v1, (bumped v2,) started: once.
      expect(now).toEqual(list[i]!.cur);
      expect(now.record).toMatchObject({ state: 'running', worker: MEMBER, attempt: 1 });
      expect(now.version).toBe(i === 5 ? 3 : 2);
    }
  });

  for (const [cut, applied] of [
    ['deaf', true],
    ['blackhole', false],
  ] as const) {
    it(`unknown outcome (${cut}: ${applied ? 'applied, its reply lost' : 'never reached the server'}): one read back of all, then ${applied ? 'nothing' : 'one multi'} more`, async () => {
      const [host, port] = zkConnect().split(',')[0]!.split(':');
      const proxy = await TcpProxy.start(host!, Number(port));
      try {
        const tasks = await assignBurst(session, paths, MEMBER, Array.from({ length: 20 }, (_, i) => ({ type: 'echo', payload: i })));
        const ws = await pool.open({ connectString: proxy.connectString, requestTimeoutMs: 500, sessionTimeoutMs: 8000 });
        const list = held(ws, tasks);
        const reads = countReads(ws);
        const multis = zkCounters.byKind.multi ?? 0;
        proxy.cut(cut);
        const verdicts = starts(ws, list);
        if (applied) for (const t of tasks) await waitFor(async () => (await readRecord(session, paths, t.record.id)).record.state === 'running');
        else await waitFor(() => ws.state === 'disconnected', { message: 'worker disconnected' });
        proxy.heal();
        expect(await verdicts).toEqual(tasks.map(() => 'started'));
        // One read back of the 20 (sent again while the connection is dead, as any read is).
        if (applied) expect(reads.sent).toBe(1);
        expect(reads.maxInFlight).toBe(1);
        expect((zkCounters.byKind.multi ?? 0) - multis).toBe(applied ? 1 : 2);
        for (const [i, t] of tasks.entries()) {
          const now = await readRecord(session, paths, t.record.id);
          expect(now.record.state).toBe('running');
          expect(now.version).toBe(2); // started once
          expect(list[i]!.cur).toEqual(now);
        }
      } finally {
        await proxy.stop();
      }
    });
  }
});
