// The task feed (client/task-feed.ts) against a real cluster: one task's events in order with
// ids; retried and lost seen by a feed of every task; a feed across a TCP cut resumes and
// misses no terminal state; an ids feed across a reconnect and across a session expiry;
// attempts that ended between two reads filled in from the history; progress never before started;
// progress of a retried task still remembered as finished read after its record, not dropped.
import { afterEach, describe, expect, it } from 'vitest';
import { TaskFeed, type TaskEvent } from '../client/task-feed.js';
import { recordEvents, seenOf } from '../client/task-feed-events.js';
import { DEFAULT_LIMITS, newTaskRecord } from '../shared/protocol/task-record.js';
import { assignTask, failAttempt, reclaimAttempt, retryTask, startTask } from '../shared/protocol/task-state.js';
import { ZkSession } from '../shared/zk/session.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { proxiedSession } from './harness/proxied-session.js';
import { SessionPool, freshLayout, testLog, waitForState } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const cleanups: Array<() => Promise<void>> = [];
const pool = new SessionPool();
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await pool.closeAll();
});

async function cluster(): Promise<TestCluster> {
  const c = await startCluster({ masters: 1 });
  cleanups.push(() => c.stop());
  return c;
}

async function feedOf(c: TestCluster | undefined, opts: { ids?: string[]; type?: string; session?: ZkSession; root?: string } = {}) {
  const feed = await TaskFeed.open({ session: opts.session ?? c!.admin, root: opts.root ?? c!.paths.root, log: testLog, ...opts });
  cleanups.push(() => feed.close());
  const events: TaskEvent[] = [];
  feed.on('event', (e) => events.push(e));
  return { feed, events, kinds: (id: string) => events.filter((e) => e.id === id).map((e) => e.kind) };
}

const proxied = (sessionTimeoutMs: number) => proxiedSession(sessionTimeoutMs, cleanups);

describe('task feed', () => {
  it('with ids: one task queued → assigned → started → progress → finished, in order', async () => {
    const c = await cluster();
    const { id } = await c.client.submit({ type: 'slow', payload: 7 });
    const { events, kinds } = await feedOf(c, { ids: [id] });
    await waitFor(() => kinds(id).length === 1, { message: 'the baseline event' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await c.addWorker({
      id: 'w1',
      handlers: {
        slow: async (p: number, ctx) => {
          ctx.progress({ step: 1, of: 2 });
          await gate;
          return p * 2;
        },
      },
    });
    await waitFor(() => kinds(id).includes('progress'), { message: 'the progress event' });
    release();
    await waitFor(() => kinds(id).includes('finished'), { message: 'the finished event' });
    expect(kinds(id)).toEqual(['queued', 'assigned', 'started', 'progress', 'finished']);
    const [, assigned, started, progress, finished] = events;
    expect(assigned!.worker).toMatch(/^w1~/);
    expect(started!.attempt).toBe(1);
    expect(progress!.progress).toEqual({ step: 1, of: 2 });
    expect(progress!.record).toBeUndefined();
    expect(finished!.state).toBe('succeeded');
    expect(finished!.record!.result).toBe(14);
    // Times never go back within one task.
    const ats = events.map((e) => e.at);
    expect([...ats].sort((a, b) => a - b)).toEqual(ats);
  });

  it('every task: a retried and a lost attempt are seen as such, then finished', async () => {
    const c = await cluster();
    const { events, kinds } = await feedOf(c);
    const flaky = await c.client.submit({ type: 'flaky', backoff: { initialMs: 300 } });
    const hang = await c.client.submit({ type: 'hang' });
    await waitFor(() => kinds(flaky.id).includes('queued') && kinds(hang.id).includes('queued'), { message: 'both queued' });
    await c.addWorker({
      id: 'wf',
      handlers: {
        flaky: (_p, ctx) => {
          if (ctx.attempt === 1) throw new Error('boom');
          return 'ok';
        },
      },
    });
    // The worker of `hang` sits behind a proxy: cut, its session expires, the leader takes the attempt back.
    const { proxy, session } = await proxied(1200);
    await c.addWorker({
      id: 'wh',
      session,
      handlers: {
        hang: (_p, ctx) => (ctx.attempt === 1 ? new Promise(() => undefined) : 'late'),
      },
    });
    await waitFor(() => kinds(hang.id).includes('started'), { message: 'hang started' });
    proxy.cut('blackhole');
    await waitFor(() => kinds(hang.id).includes('lost'), { timeoutMs: 15_000, message: 'hang lost' });
    proxy.heal();
    await waitFor(() => kinds(flaky.id).includes('finished') && kinds(hang.id).includes('finished'), { timeoutMs: 15_000, message: 'both finished' });
    expect(kinds(flaky.id)).toEqual(['queued', 'assigned', 'started', 'retried', 'assigned', 'started', 'finished']);
    expect(kinds(hang.id)).toEqual(['queued', 'assigned', 'started', 'lost', 'assigned', 'started', 'finished']);
    const retried = events.find((e) => e.id === flaky.id && e.kind === 'retried')!;
    expect(retried.record!.history![0]).toMatchObject({ attempt: 1, outcome: 'failed', error: { message: 'boom', kind: 'handler' } });
    const lost = events.find((e) => e.id === hang.id && e.kind === 'lost')!;
    expect(lost.record!.history![0]).toMatchObject({ attempt: 1, outcome: 'lost', error: { kind: 'worker-lost' } });
    expect(events.find((e) => e.id === hang.id && e.kind === 'finished')!.record!.result).toBe('late');
  });

  it('across a TCP cut (same session): resumes, and every task that finished in the gap is seen finished', async () => {
    const c = await cluster();
    const { proxy, session } = await proxied(8000);
    const { kinds, feed } = await feedOf(c, { session });
    const ids = (await c.client.submitMany(Array.from({ length: 5 }, (_, i) => ({ type: 'echo', payload: i })))).map((r) => r.id);
    await waitFor(() => ids.every((id) => kinds(id).includes('queued')), { message: 'all queued' });
    const id0 = session.sessionId;
    proxy.cut('close');
    await waitForState(session, 'disconnected', 5000);
    await c.addWorker({ id: 'w1' });
    for (const id of ids) await c.client.wait(id, { timeoutMs: 10_000 });
    proxy.heal();
    await waitFor(() => ids.every((id) => kinds(id).includes('finished')), { timeoutMs: 10_000, message: 'all finished after the cut' });
    expect(session.sessionId).toBe(id0);
    for (const id of ids) expect(kinds(id).filter((k) => k === 'finished')).toHaveLength(1);
    expect(feed.closed).toBe(false);
  });

  it('an ids feed across a reconnect and across a session expiry: each terminal state seen once', async () => {
    const c = await cluster();
    const { proxy, session } = await proxied(1500);
    const [a, b] = (await c.client.submitMany([{ type: 'echo', payload: 1 }, { type: 'echo', payload: 2 }])).map((r) => r.id);
    const { kinds, feed } = await feedOf(c, { session, ids: [a!, b!] });
    await waitFor(() => kinds(a!).length === 1 && kinds(b!).length === 1, { message: 'both baselines' });
    // Same session: cut shortly, a finishes meanwhile.
    proxy.cut('close');
    await waitForState(session, 'disconnected', 5000);
    const id0 = session.sessionId;
    const w = await c.addWorker({ id: 'w1', handlers: { echo: (p: number) => (p === 2 ? new Promise(() => undefined) : p) } });
    await c.client.wait(a!, { timeoutMs: 10_000 });
    proxy.heal();
    await waitFor(() => kinds(a!).includes('finished'), { timeoutMs: 10_000, message: 'a finished after the reconnect' });
    expect(session.sessionId).toBe(id0);
    await waitFor(() => kinds(b!).includes('started'), { message: 'b started' });
    // A silence past the session timeout: a new session; b is cancelled meanwhile.
    proxy.cut('blackhole');
    await waitForState(session, 'expired', 15_000);
    await c.client.cancel(b!);
    proxy.heal();
    await waitFor(() => kinds(b!).includes('finished'), { timeoutMs: 15_000, message: 'b finished after the expiry' });
    expect(session.sessionId).not.toBe(id0);
    expect(kinds(a!).filter((k) => k === 'finished')).toHaveLength(1);
    expect(kinds(b!).filter((k) => k === 'finished')).toHaveLength(1);
    expect(feed.closed).toBe(false);
    void w;
  });

  it('every task: a task that failed while watched, retried, runs again and succeeds: all of it shown', async () => {
    const c = await cluster();
    const { events, kinds } = await feedOf(c);
    await c.addWorker({ id: 'wr', handlers: { once: (_p, ctx) => (ctx.attempt === 1 ? Promise.reject(new Error('first')) : 'again') } });
    const { id } = await c.client.submit({ type: 'once', maxAttempts: 1 });
    await waitFor(() => kinds(id).includes('finished'), { message: 'the failure seen' });
    expect(events.find((e) => e.id === id && e.kind === 'finished')!.state).toBe('failed');
    expect(await c.client.retry(id)).toEqual({ retried: true, state: 'queued' });
    await waitFor(() => kinds(id).filter((k) => k === 'finished').length === 2, { timeoutMs: 10_000, message: 'the re-run seen finished' });
    expect(kinds(id)).toEqual(['queued', 'assigned', 'started', 'finished', 'retried', 'assigned', 'started', 'finished']);
    const mine = events.filter((e) => e.id === id);
    expect(mine.map((e) => e.attempt)).toEqual([0, 1, 1, 1, 1, 2, 2, 2]);
    expect(mine.at(-1)!.record!.result).toBe('again');
  });

  it('progress read before the record that shows the start: held, not shown before started', async () => {
    const c = await cluster();
    const { feed, kinds } = await feedOf(c);
    const { id: q } = await c.client.submit({ type: 'never' });
    await waitFor(() => kinds(q).includes('queued'), { message: 'queued seen' });
    const data = Buffer.from(JSON.stringify({ attempt: 1, progress: 1, progressAt: Date.now() }));
    expect(feed.progress(q, 'm~1', data)).toBe('later');
    expect(feed.progress('not-known', 'm~1', data)).toBe('unknown');
    expect(kinds(q)).toEqual(['queued']);
  });

  it('with --type: a task of another type is remembered as such and never shown', async () => {
    const c = await cluster();
    const { feed, kinds } = await feedOf(c, { type: 'wanted' });
    const other = await c.client.submit({ type: 'other' });
    const { id } = await c.client.submit({ type: 'wanted' });
    await waitFor(() => kinds(id).includes('queued') && feed.skipped(other.id), { message: 'both read' });
    expect(kinds(other.id)).toEqual([]);
    expect(feed.seen(other.id)).toBeUndefined();
  });
});

describe('task feed events (pure)', () => {
  it('attempts that ended between two reads are filled in from the history, in order', () => {
    let r = newTaskRecord({ type: 't', id: 'x' }, DEFAULT_LIMITS, 0);
    r = startTask(assignTask(r, 'w~1', 1, 10), 20);
    const seen = seenOf(r);
    // Read again only once attempt 1 failed, attempt 2 was lost, and attempt 3 started.
    r = failAttempt(r, { kind: 'handler', retryable: true, message: 'boom' }, 30);
    r = startTask(assignTask(r, 'w~2', 1, 40), 50);
    r = reclaimAttempt(r, { kind: 'worker-lost', retryable: true, message: 'gone' }, 60);
    r = startTask(assignTask(r, 'w~3', 1, 70), 80);
    const ev = recordEvents(seen, r, true);
    expect(ev.map((e) => [e.kind, e.attempt, e.at])).toEqual([
      ['retried', 1, 30],
      ['assigned', 2, 40],
      ['started', 2, 50],
      ['lost', 2, 60],
      ['assigned', 3, 70],
      ['started', 3, 80],
    ]);
    expect(ev[1]!.worker).toBe('w~2');
    // A baseline read shows only where the task is.
    expect(recordEvents(undefined, r, false).map((e) => e.kind)).toEqual(['started']);
  });

  it('a task seen finished, read again only once its retry ran: retried first, then the new attempt', () => {
    let r = newTaskRecord({ type: 't', id: 'y', maxAttempts: 1 }, DEFAULT_LIMITS, 0);
    r = failAttempt(startTask(assignTask(r, 'w~1', 1, 10), 20), { kind: 'handler', retryable: true, message: 'boom' }, 30);
    expect(r.state).toBe('failed');
    const seen = seenOf(r);
    expect(recordEvents(seen, r, true)).toEqual([]);
    const retried = retryTask(r, 40);
    expect(recordEvents(seen, retried, true).map((e) => [e.kind, e.attempt, e.at])).toEqual([['retried', 1, 40]]);
    const running = startTask(assignTask(retried, 'w~2', 1, 50), 60);
    expect(recordEvents(seen, running, true).map((e) => [e.kind, e.attempt, e.at])).toEqual([
      ['retried', 1, 40],
      ['assigned', 2, 50],
      ['started', 2, 60],
    ]);
  });

  it('a task failed by losses past maxLost, then retried: retried however the reads fell, at the retry (never before the finish)', () => {
    let r = newTaskRecord({ type: 't', id: 'z', maxLost: 0 }, DEFAULT_LIMITS, 0);
    r = reclaimAttempt(startTask(assignTask(r, 'w~1', 1, 10), 20), { kind: 'worker-lost', retryable: true, message: 'gone' }, 30);
    expect(r.state).toBe('failed');
    expect(r.history!.at(-1)!.outcome).toBe('lost');
    const seen = seenOf(r);
    // A bulk retry's token (25) from before this finish (30): the record's time does not go back.
    const retried = retryTask(r, 25);
    const kinds = (prev: Parameters<typeof recordEvents>[0], fill: boolean) => recordEvents(prev, retried, fill).map((e) => [e.kind, e.attempt, e.at]);
    expect(kinds(seen, true)).toEqual([['retried', 1, 30]]);
    // First read after the retry (a feed opened since, or one that missed the finish): the same.
    expect(kinds(undefined, false)).toEqual([['retried', 1, 30]]);
    const running = startTask(assignTask(retried, 'w~2', 1, 50), 60);
    expect(recordEvents(seen, running, true).map((e) => [e.kind, e.attempt, e.at])).toEqual([
      ['retried', 1, 30],
      ['assigned', 2, 50],
      ['started', 2, 60],
    ]);
  });

  it('every task: progress of a retried task still remembered as finished is unknown (its record read first), not dropped', async () => {
    const session = await pool.open();
    const paths = await freshLayout(session);
    const { feed, events } = await feedOf(undefined, { session, root: paths.root });
    let r = newTaskRecord({ type: 't', id: 'p', maxAttempts: 1 }, DEFAULT_LIMITS, 0);
    r = failAttempt(startTask(assignTask(r, 'w~1', 1, 10), 20), { kind: 'handler', retryable: true, message: 'boom' }, 30);
    feed.record(r, false); // a baseline read: finished
    const data = (attempt: number, at: number) => Buffer.from(JSON.stringify({ attempt, progress: { at }, progressAt: at }));
    // The finished attempt's own progress, read late: nothing to show, nothing to read.
    expect(feed.progress('p', 'w~1', data(1, 25))).toBe('done');
    // Retried and running again, its progress read before the record that shows it.
    const running = startTask(assignTask(retryTask(r, 40), 'w~2', 1, 50), 60);
    expect(feed.progress('p', 'w~2', data(2, 70))).toBe('unknown');
    feed.record(running, true);
    expect(feed.progress('p', 'w~2', data(2, 70))).toBe('done');
    await waitFor(() => events.length >= 5, { message: 'the events (held until open() returned)' });
    expect(events.filter((e) => e.id === 'p').map((e) => e.kind)).toEqual(['finished', 'retried', 'assigned', 'started', 'progress']);
  });

  it('a task first read past queued shows its queueing when it was created after the feed opened, not before', () => {
    const rec = newTaskRecord({ type: 'echo', id: 'q-1' }, DEFAULT_LIMITS, 100);
    const running = startTask(assignTask(rec, 'w~1', 1, 110), 120);
    // Created at 100: a feed open since 90 watched its queueing (the read came too late to see it).
    // The queueing came before any attempt: attempt 0, as a feed that read it queued shows it.
    expect(recordEvents(undefined, running, true, 90).map((e) => [e.kind, e.at, e.attempt])).toEqual([['queued', 100, 0], ['assigned', 110, 1], ['started', 120, 1]]);
    // A feed open since 105 did not: only what it could have watched.
    expect(recordEvents(undefined, running, true, 105).map((e) => e.kind)).toEqual(['assigned', 'started']);
  });
});
