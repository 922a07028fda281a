// The worker's fence against a real ZooKeeper: an attempt taken away (cancelled, reclaimed,
// its session lost) is aborted and its late commit refused; a record bumped under a running
// attempt that is still ours is re-read and committed.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { cancelOps } from '../shared/protocol/task-ops.js';
import { reclaim } from '../shared/protocol/transitions.js';
import type { ZkSession } from '../shared/zk/session.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { zkConnect } from './harness/zk.js';
import { gated, useWorkerSuite } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';

const { fx, startWorker, submitAndAssign, read, waitState } = useWorkerSuite();
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

describe('worker fencing', () => {
  it('cancellation while running aborts the signal and the late commit is fenced', async () => {
    const g = gated();
    const w = await startWorker({ handlers: { wait: g.handler } });
    const fenced: unknown[] = [];
    w.on('fenced', (e) => fenced.push(e));
    const id = await submitAndAssign(w, { type: 'wait' });
    await waitState(id, 'running');
    await waitFor(() => g.seen.started);
    const cur = await read(id);
    await session.multi(cancelOps(paths, cur, 'cancelled by test', Date.now()).ops);
    await waitFor(() => g.seen.abortReason, { message: 'handler signal aborted' });
    expect(g.seen.abortReason).toBe('assignment withdrawn: cancelled or reclaimed');
    await waitFor(() => fenced.length === 1);
    expect(fenced[0]).toMatchObject({ taskId: id, attempt: 1 });
    g.release('too late');
    const rec = (await read(id)).record;
    expect(rec.state).toBe('cancelled');
    expect(rec.error?.message).toBe('cancelled by test');
    expect(rec.result).toBeUndefined();
    expect(w.stats).toMatchObject({ committed: 0, fenced: 1 });
    await waitFor(() => w.inFlight === 0);
  });

  it('a record bumped while running but still ours: the commit re-reads and retries', async () => {
    const g = gated();
    const w = await startWorker({ handlers: { wait: g.handler } });
    const id = await submitAndAssign(w, { type: 'wait' });
    await waitState(id, 'running');
    await waitFor(() => g.seen.started);
    const cur = await read(id);
    await session.setData(paths.task(id), Buffer.from(JSON.stringify(cur.record)), cur.version);
    g.release('still mine');
    const rec = await waitState(id, 'succeeded');
    expect(rec.result).toBe('still mine');
    expect(w.stats).toMatchObject({ committed: 1, fenced: 0 });
  });

  it('a reclaimed task: the worker commit is fenced and the record shows the reclaim', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    const g = gated();
    const w = await startWorker({ handlers: { wait: g.handler }, log });
    const fenced: Array<{ taskId: string; attempt: number; reason: string }> = [];
    w.on('fenced', (e) => fenced.push(e));
    const id = await submitAndAssign(w, { type: 'wait', maxAttempts: 3 });
    await waitState(id, 'running');
    await waitFor(() => g.seen.started);
    // The test's "leader" fences its write on a node of its own, as a leader does on its candidate.
    const fenceNode = `${paths.root}/test-leader`;
    await session.create(fenceNode);
    const cur = await read(id);
    const leader = { session, paths, fence: () => ({ op: 'check' as const, path: fenceNode, version: 0 }) };
    const v = await reclaim(leader, cur, { kind: 'worker-lost', retryable: true, message: 'reclaimed by test' }, Date.now(), true);
    expect(v.kind).toBe('committed');
    g.release('stale result');
    await waitFor(() => fenced.length === 1);
    expect(fenced[0]).toMatchObject({ taskId: id, attempt: 1 });
    const rec = (await read(id)).record;
    expect(rec.state).toBe('queued');
    expect(rec.attempt).toBe(1);
    expect(rec.error).toEqual({ kind: 'worker-lost', retryable: true, message: 'reclaimed by test' });
    expect(rec.result).toBeUndefined();
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).includes('fenced'));
    expect(line).toMatchObject({ level: 40, taskId: id, attempt: 1, component: 'worker', workerId: 'w1' });
  });

  it('session expiry: aborts the attempt, re-registers, and takes work on the new incarnation only', async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      const g = gated();
      const w = await startWorker({ connectString: proxy.connectString, sessionTimeoutMs: 1200, handlers: { wait: g.handler } });
      const fenced: unknown[] = [];
      w.on('fenced', (e) => fenced.push(e));
      const oldMember = w.memberName!;
      const id = await submitAndAssign(w, { type: 'wait', maxAttempts: 3 });
      await waitState(id, 'running');
      await waitFor(() => g.seen.started);

      proxy.cut('blackhole');
      await waitFor(() => g.seen.abortReason, { message: 'attempt aborted on session loss' });
      expect(g.seen.abortReason).toBe('session lost');
      await waitFor(async () => (await session.exists(paths.member(oldMember))) === null, { message: 'old member node gone' });
      // The leader sees the member gone and takes the task back, fenced on its own node.
      const fenceNode = `${paths.root}/test-leader`;
      await session.create(fenceNode);
      const lost = { kind: 'worker-lost' as const, retryable: true, message: 'worker gone' };
      const leader = { session, paths, fence: () => ({ op: 'check' as const, path: fenceNode }) };
      expect((await reclaim(leader, await read(id), lost, Date.now(), true)).kind).toBe('committed');

      proxy.heal();
      await waitFor(() => w.memberName !== oldMember && w.memberName !== null, { message: 'new incarnation' });
      // The worker's commit from the old incarnation is refused by the fence.
      await waitFor(() => fenced.length === 1, { message: 'old attempt fenced' });
      expect((await read(id)).record).toMatchObject({ state: 'queued', attempt: 1, error: lost });
      expect(await session.exists(paths.member(w.memberName!))).not.toBeNull();
      expect(w.state).toBe('running');
      const next = await submitAndAssign(w, { type: 'echo', payload: 'reborn' });
      expect((await waitState(next, 'succeeded')).result).toBe('reborn');
      g.release('late');
      await w.stop();
    } finally {
      await proxy.stop();
    }
  });
});
