// A worker whose session expired takes nothing from its old incarnation's directory, against
// a real ZooKeeper. On the new session the library adds the old directory's tree watch again
// before the worker has registered anew, and that re-add's reset used to list the old
// directory and read what was there (starting it, when the new registration is slower than
// that read): a dead incarnation's assignments, the leader's to take back, run by a live
// worker. The test sees the worker's requests (their paths) as its session makes them.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { zkConnect } from './harness/zk.js';
import { readRecord, submitAndAssignTo, useWorkerFixture } from './harness/worker-fixture.js';
import { waitState } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';
import { traceCalls } from './harness/worker-read-tools.js';

const fx = useWorkerFixture({ gracePeriodMs: 3000 });
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

describe('worker session expiry', () => {
  it("the old incarnation's directory is not listed again on the new session: what it holds is never started", async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      const ws = await fx.openSession({ connectString: proxy.connectString, sessionTimeoutMs: 1200 });
      const w = await fx.startWorker({ session: ws, connectString: undefined });
      const started: string[] = [];
      w.on('started', (e) => started.push(e.taskId));
      const oldMember = w.memberName!;
      const calls = traceCalls(ws);
      proxy.cut('blackhole');
      await waitFor(async () => (await session.exists(paths.member(oldMember))) === null, { message: 'old member node gone' });
      // Assigned to the dead incarnation while the worker cannot see (no leader here to take it back).
      const [orphan] = await submitAndAssignTo(session, paths, oldMember, [{ type: 'echo', payload: 'old' }]);
      proxy.heal();
      await waitFor(() => w.memberName !== oldMember && w.memberName !== null, { message: 'new incarnation' });
      // The new incarnation works; by the time its task is done, the reconnect's resets are long over.
      const [fresh] = await submitAndAssignTo(session, paths, w.memberName!, [{ type: 'echo', payload: 'new' }]);
      expect((await waitState(session, paths, fresh!.record.id, 'succeeded')).result).toBe('new');
      await waitFor(() => w.inFlight === 0);
      expect(started).toEqual([fresh!.record.id]);
      // On the new session, nothing of the old directory was read (its watch's re-add and release aside).
      const oldDir = paths.assignDir(oldMember);
      const reads = calls.filter((c) => c.generation > 0 && (c.path === oldDir || c.path.startsWith(`${oldDir}/`)) && c.op !== 'addWatch' && c.op !== 'removeWatches');
      expect(reads).toEqual([]);
      expect(calls.some((c) => c.generation > 0 && c.path.startsWith(paths.assignDir(w.memberName!)))).toBe(true);
      expect((await readRecord(session, paths, orphan!.record.id)).record).toMatchObject({ state: 'assigned', worker: oldMember, attempt: 1 });
      expect(w.state).toBe('running');
    } finally {
      await proxy.stop();
    }
  });
});
