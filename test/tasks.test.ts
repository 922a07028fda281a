// The task life cycle end to end on a real ZooKeeper (in-process master and workers, each on
// its own session): every outcome, retries with backoff, timeouts, cancellation, bad input,
// capacity, retention.
import { afterEach, describe, expect, it } from 'vitest';
import { Paths } from '../shared/protocol/paths.js';
import { PayloadTooLargeError } from '../shared/protocol/task-record.js';
import type { HandlerMap } from '../worker/handlers.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { waitFor } from './harness/wait-for.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { testLog, zkConnect } from './harness/zk.js';
import { DroverClient } from '../client/drover-client.js';
import { ZkSession } from '../shared/zk/session.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function terminal(c: TestCluster, id: string, timeoutMs = 15_000) {
  return c.client.wait(id, { timeoutMs });
}

describe('task outcomes', () => {
  it('succeeds with its result; the assignment and queue entry are gone, one done entry remains', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }] });
    const { id } = await cluster.client.submit({ type: 'echo', payload: { hello: 'world' } });
    const rec = await terminal(cluster, id);
    expect(rec).toMatchObject({ state: 'succeeded', result: { hello: 'world' }, attempt: 1 });
    expect(rec.worker).toMatch(/^w1~/);
    const s = await cluster.client.status();
    expect(s).toMatchObject({ queue: { depth: 0 }, inProgress: 0, finished: 1 });
  });

  it('fails after maxAttempts with exponential backoff between attempts', async () => {
    const starts: number[] = [];
    const handlers: HandlerMap = {
      flaky: () => {
        starts.push(Date.now());
        throw new Error('boom');
      },
    };
    cluster = await startCluster({ workers: [{ id: 'w1', handlers }] });
    const { id } = await cluster.client.submit({ type: 'flaky', maxAttempts: 3, backoff: { initialMs: 200, factor: 2, maxMs: 10_000 } });
    const rec = await terminal(cluster, id);
    expect(rec).toMatchObject({ state: 'failed', attempt: 3, error: { kind: 'handler', message: 'boom' } });
    expect(starts).toHaveLength(3);
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(200);
    expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(400);
  });

  it('a non-retryable failure fails at once', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }] });
    const { id } = await cluster.client.submit({ type: 'fail', payload: { retryable: false, message: 'bad input' }, maxAttempts: 5 });
    expect(await terminal(cluster, id)).toMatchObject({ state: 'failed', attempt: 1, error: { message: 'bad input' } });
  });

  it('times out a handler that never returns, then retries it', async () => {
    const attempts: number[] = [];
    const handlers: HandlerMap = {
      hangOnce: (_p, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) return new Promise(() => {}); // never settles, ignores its signal
        return 'second time lucky';
      },
    };
    cluster = await startCluster({ workers: [{ id: 'w1', handlers }] });
    const { id } = await cluster.client.submit({ type: 'hangOnce', timeoutMs: 300, backoff: { initialMs: 50 } });
    const rec = await terminal(cluster, id);
    expect(rec).toMatchObject({ state: 'succeeded', attempt: 2, result: 'second time lucky' });
    expect(attempts).toEqual([1, 2]);
  });

  it('cancels a queued task: it leaves the queue and never runs', async () => {
    cluster = await startCluster({ workers: [] });
    const { id } = await cluster.client.submit({ type: 'echo', payload: 1 });
    expect(await cluster.client.cancel(id)).toEqual({ cancelled: true, state: 'cancelled' });
    const w = await cluster.addWorker({ id: 'late' });
    expect(await terminal(cluster, id)).toMatchObject({ state: 'cancelled', attempt: 0 });
    expect((await cluster.client.status()).queue.depth).toBe(0);
    expect(w.stats.started).toBe(0);
  });

  it('cancels a running task: its signal aborts and the worker cannot commit', async () => {
    let aborted = false;
    const handlers: HandlerMap = {
      long: (_p, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            resolve('finished anyway');
          });
        }),
    };
    cluster = await startCluster({ workers: [{ id: 'w1', handlers }] });
    const { id } = await cluster.client.submit({ type: 'long' });
    await waitFor(async () => (await cluster!.client.get(id))?.state === 'running', { message: 'running' });
    expect(await cluster.client.cancel(id)).toEqual({ cancelled: true, state: 'cancelled' });
    await waitFor(() => aborted, { message: 'handler signal aborted' });
    await waitFor(() => cluster!.workers[0]!.inFlight === 0, { message: 'worker released it' });
    expect(await cluster.client.get(id)).toMatchObject({ state: 'cancelled', error: { kind: 'cancelled' } });
  });
});

describe('bad input', () => {
  it('submission is idempotent by id, and says so', async () => {
    cluster = await startCluster({ workers: [] });
    const a = await cluster.client.submit({ type: 'echo', id: 'same', payload: 1 });
    const b = await cluster.client.submit({ type: 'echo', id: 'same', payload: 2 });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.record.payload).toBe(1);
    expect((await cluster.client.status()).queue.depth).toBe(1);
    const many = await cluster.client.submitMany([{ type: 'echo', id: 'same' }, { type: 'echo', id: 'other' }]);
    expect(many.map((r) => r.created)).toEqual([false, true]);
  });

  it('a bulk submit whose reply was lost still says it created its tasks', async () => {
    cluster = await startCluster({ workers: [] });
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 4000, requestTimeoutMs: 800, log: testLog });
    try {
      const client = await DroverClient.connect({ session, root: cluster.paths.root });
      proxy.cut('deaf'); // the batch reaches the server; its reply does not come back
      const pending = client.submitMany([{ type: 'echo', id: 'lost-1' }, { type: 'echo', id: 'lost-2' }]);
      await waitFor(async () => (await cluster!.client.get('lost-2')) !== null, { timeoutMs: 5000, message: 'batch applied' });
      proxy.heal();
      const results = await pending;
      expect(results.map((r) => [r.id, r.created])).toEqual([
        ['lost-1', true],
        ['lost-2', true],
      ]);
    } finally {
      await session.close();
      await proxy.stop();
    }
  });

  it('wait() with a signal aborted before or during the call rejects at once', async () => {
    cluster = await startCluster({ workers: [] });
    const { id } = await cluster.client.submit({ type: 'echo' });
    const before = AbortSignal.abort(new Error('gave up before'));
    await expect(cluster.client.wait(id, { signal: before })).rejects.toThrow('gave up before');
    const during = new AbortController();
    const waiting = cluster.client.wait(id, { signal: during.signal });
    during.abort(new Error('gave up during'));
    await expect(waiting).rejects.toThrow('gave up during');
  });

  it('rejects an oversized payload with a clear message and writes nothing', async () => {
    cluster = await startCluster({ workers: [] });
    const err = await cluster.client.submit({ type: 'echo', id: 'huge', payload: 'x'.repeat(100_000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as Error).message).toContain('over the 65536-byte limit');
    expect(await cluster.client.get('huge')).toBeNull();
  });

  it('fails a malformed record held by a worker that is gone, instead of dropping it from every index', async () => {
    cluster = await startCluster({ workers: [] });
    await cluster.masters[0]!.stop();
    const { id } = await cluster.client.submit({ type: 'echo', id: 'orphan', payload: 1 });
    // As a dead worker's assignment would look: queue entry gone, assignment under a member
    // that is not registered; then the record is corrupted.
    const queueDir = cluster.paths.queueShard(cluster.paths.shard(id));
    const [entry] = (await cluster.admin.getChildren(queueDir)).children;
    const ghost = Paths.memberName('ghost', '0123456789abcdef');
    await cluster.admin.multi([
      { op: 'remove', path: `${queueDir}/${entry!}` },
      { op: 'create', path: cluster.paths.assignDir(ghost) },
      { op: 'create', path: cluster.paths.assignment(ghost, id, 1), data: Buffer.from('{}') },
    ]);
    await cluster.admin.setData(cluster.paths.task(id), Buffer.from('garbage'));
    await cluster.addMaster({ id: 'm2' });
    const rec = await terminal(cluster, id);
    expect(rec).toMatchObject({ state: 'failed', error: { kind: 'malformed' } });
    // The emptied directory of the gone member goes in the leader's next step, after the fail.
    await waitFor(async () => (await cluster!.admin.exists(cluster!.paths.assignDir(ghost))) === null, { message: "the gone member's directory removed" });
  });

  it('marks malformed data written into a task znode failed, with the reason, and keeps running', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }] });
    // Submit while no master leads, corrupt the record, then let a master find it.
    await cluster.masters[0]!.stop();
    const { id } = await cluster.client.submit({ type: 'echo', id: 'corrupt', payload: 1 });
    await cluster.admin.setData(cluster.paths.task(id), Buffer.from('{"this is": not json'));
    await cluster.addMaster({ id: 'm2' });
    const rec = await terminal(cluster, id);
    expect(rec.state).toBe('failed');
    expect(rec.error).toMatchObject({ kind: 'malformed' });
    expect(rec.error!.message).toContain('not JSON');
    const ok = await cluster.client.submit({ type: 'echo', payload: 'after' });
    expect(await terminal(cluster, ok.id)).toMatchObject({ state: 'succeeded', result: 'after' });
  });

  it('a type no worker handles waits in the queue (not failed: a rolling deploy) and the worker keeps working', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }] });
    const { id } = await cluster.client.submit({ type: 'no-such-type' });
    const ok = await cluster.client.submit({ type: 'echo', payload: 2 });
    expect(await terminal(cluster, ok.id)).toMatchObject({ state: 'succeeded', result: 2 });
    expect(await cluster.client.get(id)).toMatchObject({ state: 'queued', attempt: 0 });
  });
});

describe('capacity and spreading', () => {
  it('a worker never holds more than its capacity, and load spreads across workers', async () => {
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    const handlers = (name: string): HandlerMap => ({
      work: async (p: { ms: number }) => {
        running.set(name, (running.get(name) ?? 0) + 1);
        peak.set(name, Math.max(peak.get(name) ?? 0, running.get(name)!));
        await new Promise((r) => setTimeout(r, p.ms));
        running.set(name, running.get(name)! - 1);
        return name;
      },
    });
    cluster = await startCluster({
      workers: [
        { id: 'a', concurrency: 2, handlers: handlers('a') },
        { id: 'b', concurrency: 3, handlers: handlers('b') },
      ],
    });
    // Watch the assignment directories directly: what ZooKeeper says each worker holds.
    const heldPeak = new Map<string, number>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await cluster!.client.status();
        for (const w of s.workers) heldPeak.set(w.id, Math.max(heldPeak.get(w.id) ?? 0, w.load));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const subs = await cluster.client.submitMany(Array.from({ length: 20 }, (_, i) => ({ type: 'work', payload: { ms: 100 + (i % 3) * 50 } })));
    const recs = await Promise.all(subs.map((s) => terminal(cluster!, s.id, 30_000)));
    sampling = false;
    await sampler;
    expect(recs.every((r) => r.state === 'succeeded')).toBe(true);
    expect(peak.get('a')).toBeLessThanOrEqual(2);
    expect(peak.get('b')).toBeLessThanOrEqual(3);
    expect(heldPeak.get('a') ?? 0).toBeLessThanOrEqual(2);
    expect(heldPeak.get('b') ?? 0).toBeLessThanOrEqual(3);
    const by = recs.reduce((m, r) => m.set(r.result as string, (m.get(r.result as string) ?? 0) + 1), new Map<string, number>());
    expect(by.get('a')).toBeGreaterThan(0);
    expect(by.get('b')).toBeGreaterThan(0);
  });

  it('honours labels: a task that asks for gpu=yes runs only on such a worker', async () => {
    cluster = await startCluster({ workers: [{ id: 'cpu' }, { id: 'gpu', labels: { gpu: 'yes' } }] });
    const subs = await cluster.client.submitMany(Array.from({ length: 6 }, () => ({ type: 'echo', labels: { gpu: 'yes' } })));
    const recs = await Promise.all(subs.map((s) => terminal(cluster!, s.id)));
    expect(recs.every((r) => r.worker!.startsWith('gpu~'))).toBe(true);
  });

  it('tasks no free worker can take do not hold back the tasks behind them', async () => {
    // gpu (capacity 1) is busy; cpu has 2 free slots. Ahead in the queue: gpu tasks (their
    // worker is full) and tasks asking for a label no worker has. The plain tasks behind them
    // must still run on cpu now, not once the gpu worker frees up.
    cluster = await startCluster({ workers: [{ id: 'cpu', concurrency: 2 }, { id: 'gpu', concurrency: 1, labels: { gpu: 'yes' } }] });
    const long = await cluster.client.submit({ type: 'sleep', payload: { ms: 60_000 }, labels: { gpu: 'yes' }, priority: 50 });
    await waitFor(async () => (await cluster!.client.get(long.id))?.state === 'running', { timeoutMs: 10_000, message: 'long gpu task running' });
    const blocked = await cluster.client.submitMany([
      ...Array.from({ length: 6 }, () => ({ type: 'echo', labels: { gpu: 'yes' }, priority: 9 })),
      ...Array.from({ length: 6 }, () => ({ type: 'echo', labels: { zone: 'nowhere' }, priority: 9 })),
    ]);
    const plain = await cluster.client.submitMany(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: i })));
    const recs = await Promise.all(plain.map((p) => terminal(cluster!, p.id, 10_000)));
    expect(recs.map((r) => r.state)).toEqual(Array(5).fill('succeeded'));
    expect(recs.every((r) => r.worker!.startsWith('cpu~'))).toBe(true);
    // The ones ahead are still waiting for a worker that can take them.
    const ahead = await Promise.all(blocked.map((b) => cluster!.client.get(b.id)));
    expect(ahead.map((r) => r!.state)).toEqual(Array(12).fill('queued'));
    await cluster.client.cancel(long.id);
  });

  it('a worker whose assignment directory was removed by hand gets work again', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }] });
    const w = cluster.workers[0]!;
    await cluster.admin.remove(cluster.paths.assignDir(w.memberName!));
    const { id } = await cluster.client.submit({ type: 'echo', payload: 'back' });
    const rec = await terminal(cluster, id);
    expect(rec).toMatchObject({ state: 'succeeded', result: 'back', worker: w.memberName });
  });
});

describe('retention', () => {
  it('deletes finished tasks once their retention has passed', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }], master: { retentionMs: 300, retentionIntervalMs: 100_000 } });
    const { id } = await cluster.client.submit({ type: 'echo' });
    await terminal(cluster, id);
    await waitFor(async () => (await cluster!.leader()!.purgeFinished()) > 0 || (await cluster!.client.get(id)) === null, {
      timeoutMs: 5000,
      message: 'purged',
    });
    expect(await cluster.client.get(id)).toBeNull();
    expect((await cluster.client.status()).finished).toBe(0);
  });
});
