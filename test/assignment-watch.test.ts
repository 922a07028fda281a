// The worker keeps its view of its assignment directory with one persistent recursive watch
// (worker/assignment-dir.ts), against a real ZooKeeper: a lone task costs three requests (no
// listing before or after it), and what changed while the connection was down is seen once
// the watch is back (the directory is listed again).
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { cancelOps } from '../shared/protocol/task-ops.js';
import type { ZkSession } from '../shared/zk/session.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { zkConnect } from './harness/zk.js';
import { readRecord, useWorkerFixture } from './harness/worker-fixture.js';
import { assignBurst, gated, quietXid, waitState } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';

const fx = useWorkerFixture({ gracePeriodMs: 3000 });
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

describe('assignment watch', () => {
  it('a lone task costs three requests: its node and record in one read, the start, the finish', async () => {
    const ws = await fx.openSession();
    const w = await fx.startWorker({ session: ws, connectString: undefined });
    const idle = await quietXid(ws);
    for (let i = 0; i < 3; i++) {
      const [t] = await assignBurst(session, paths, w.memberName!, [{ type: 'echo', payload: i }]);
      expect((await waitState(session, paths, t!.record.id, 'succeeded')).result).toBe(i);
    }
    // Was 5 a task: a listing, the record read, the start, the finish, a listing after our removal.
    expect((await quietXid(ws)) - idle).toBe(9);
  });

  it('what is assigned and withdrawn while the connection is down is seen when it is back', async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      const g = gated();
      const ws = await fx.openSession({ connectString: proxy.connectString, sessionTimeoutMs: 4000 });
      const w = await fx.startWorker({ session: ws, connectString: undefined, handlers: { wait: g.handler } });
      const fenced: string[] = [];
      w.on('fenced', (e) => fenced.push(e.taskId));
      const [held] = await assignBurst(session, paths, w.memberName!, [{ type: 'wait' }]);
      await waitFor(() => g.seen.started, { message: 'running' });
      proxy.cut('close');
      await waitFor(() => ws.state === 'disconnected', { message: 'worker disconnected' });
      // Meanwhile: its running task is cancelled, a new one assigned. No event reaches it.
      await session.multi(cancelOps(paths, await readRecord(session, paths, held!.record.id), 'cancelled while away', Date.now()).ops);
      const [later] = await assignBurst(session, paths, w.memberName!, [{ type: 'echo', payload: 'later' }]);
      proxy.heal();
      await waitFor(() => g.seen.abortReason, { message: 'withdrawn attempt aborted' });
      expect(g.seen.abortReason).toBe('assignment withdrawn: cancelled or reclaimed');
      expect((await waitState(session, paths, later!.record.id, 'succeeded')).result).toBe('later');
      await waitFor(() => fenced.length === 1, { message: 'late commit fenced' });
      expect((await readRecord(session, paths, held!.record.id)).record).toMatchObject({ state: 'cancelled', error: { message: 'cancelled while away' } });
      g.release('too late');
    } finally {
      await proxy.stop();
    }
  });
});
