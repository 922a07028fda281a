// An attempt whose assignment is withdrawn (cancelled, reclaimed) while it runs sends no
// finish, against a real ZooKeeper: the finish's fence is that very node, so the multi could
// only be refused. It is reported fenced, and the cancel reasons are read back for all of
// them together (a multiRead per turn the withdrawals were seen in: counted by the server as
// the session's last xid, and no multi among them: counted as the process sends them).
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { cancelOps } from '../shared/protocol/task-ops.js';
import { zkCounters, type ZkSession } from '../shared/zk/session.js';
import { readRecord, useWorkerFixture } from './harness/worker-fixture.js';
import { assignBurst, gated, quietXid, waitState } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';

const fx = useWorkerFixture({ gracePeriodMs: 3000 });
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

describe('withdrawn attempts', () => {
  it('5 cancelled while running: no finish sent, each fenced with its reason, the reasons read together', async () => {
    const N = 5;
    const lines: Array<{ msg: string; reason?: string; taskId?: string }> = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
    const g = gated(); // ignores its signal: the worker stops awaiting it on abort
    const ws = await fx.openSession();
    const w = await fx.startWorker({ session: ws, connectString: undefined, concurrency: N, handlers: { wait: g.handler }, log });
    const fenced: string[] = [];
    w.on('fenced', (e) => fenced.push(e.taskId));
    const tasks = await assignBurst(session, paths, w.memberName!, Array.from({ length: N }, () => ({ type: 'wait' })));
    for (const t of tasks) await waitState(session, paths, t.record.id, 'running');
    // All cancelled in one multi, as a user's batch cancel does: their events come close together.
    const cancels = await Promise.all(tasks.map(async (t, i) => cancelOps(paths, await readRecord(session, paths, t.record.id), `stop ${i}`, Date.now()).ops));
    const before = await quietXid(ws);
    const multis = zkCounters.byKind.multi ?? 0;
    await session.multi(cancels.flat());
    await waitFor(() => fenced.length === N, { message: 'all fenced' });
    // The reasons read in a multiRead per turn; no finish multi (was a multi a task, each
    // refused, and a read a task: 2N requests). The one multi is the test's cancel.
    const requests = (await quietXid(ws)) - before;
    expect(requests).toBeGreaterThanOrEqual(1);
    expect(requests).toBeLessThan(N);
    expect((zkCounters.byKind.multi ?? 0) - multis).toBe(1);
    expect(new Set(fenced)).toEqual(new Set(tasks.map((t) => t.record.id)));
    for (const [i, t] of tasks.entries()) {
      const line = lines.find((l) => l.taskId === t.record.id && l.msg.startsWith('attempt cancelled'));
      expect(line).toMatchObject({ reason: `stop ${i}` });
      expect((await readRecord(session, paths, t.record.id)).record).toMatchObject({ state: 'cancelled', error: { message: `stop ${i}` } });
    }
    expect(lines.some((l) => l.msg.startsWith('commit'))).toBe(false);
    expect(w.stats).toMatchObject({ committed: 0, fenced: N });
    await waitFor(() => w.inFlight === 0);
    g.release('too late');
  });
});
