// The worker against a real ZooKeeper: running tasks and committing their outcomes. The test
// plays the leader: it submits tasks and assigns them to the worker's member with the
// protocol's own multi builders. (Fencing: worker-fencing.test.ts; lifecycle:
// worker-lifecycle.test.ts; group commit: group-commit.test.ts.)
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { assignOps, queueEntryOf, startOps, submitOps } from '../shared/protocol/task-ops.js';
import { newTaskRecord } from '../shared/protocol/task-record.js';
import { MembershipObserver } from '../shared/zk/membership.js';
import type { ZkSession } from '../shared/zk/session.js';
import { NonRetryableError, type TaskContext } from '../worker/handlers.js';
import { testLog } from './harness/zk.js';
import { useWorkerSuite } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';

const { fx, startWorker, submitAndAssign, read, waitState } = useWorkerSuite();
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

describe('worker', () => {
  it('runs echo and commits its result; the assignment is gone and a done entry exists', async () => {
    const w = await startWorker();
    const committed: unknown[] = [];
    w.on('committed', (e) => committed.push(e));
    const id = await submitAndAssign(w, { type: 'echo', payload: { hello: 'world' } });
    const rec = await waitState(id, 'succeeded');
    expect(rec.result).toEqual({ hello: 'world' });
    expect(rec.attempt).toBe(1);
    expect(await session.exists(paths.assignment(w.memberName!, id, 1))).toBeNull();
    const { children } = await session.getChildren(paths.doneShard(paths.shard(id)));
    expect(children.some((n) => n.endsWith(`-${id}`))).toBe(true);
    await waitFor(() => committed.length === 1);
    expect(committed[0]).toEqual({ taskId: id, attempt: 1, state: 'succeeded' });
    expect(w.stats).toEqual({ started: 1, committed: 1, fenced: 0 });
    expect(w.inFlight).toBe(0);
  });

  it('re-creates its assignment directory when it is removed under it, and runs work in it', async () => {
    const w = await startWorker();
    const dir = paths.assignDir(w.memberName!);
    await session.remove(dir);
    // Without it no leader assigns to this worker (and the assignment multi below would fail).
    await waitFor(async () => (await session.exists(dir)) !== null, { timeoutMs: 5000, message: `${dir} re-created` });
    const id = await submitAndAssign(w, { type: 'echo', payload: 7 });
    expect((await waitState(id, 'succeeded')).result).toBe(7);
  });

  it('advertises the types it handles (built-ins included, sorted) in its member data, and logs them at start', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c)) as Record<string, unknown>), cb()) }));
    const w = await startWorker({ handlers: { zeta: () => 1, alpha: () => 2 }, log });
    expect(w.types).toEqual(['alpha', 'echo', 'fail', 'sleep', 'zeta']);
    const data = JSON.parse((await session.getData(paths.member(w.memberName!))).data.toString('utf8')) as { types?: string[] };
    expect(data.types).toEqual(['alpha', 'echo', 'fail', 'sleep', 'zeta']);
    expect(lines.find((l) => Array.isArray(l.types))).toMatchObject({ types: ['alpha', 'echo', 'fail', 'sleep', 'zeta'], workerId: 'w1' });
    // The leader's view carries them; a member without them (an older worker) reads as "any type".
    const observer = new MembershipObserver(session, paths, testLog);
    await observer.start();
    await session.create(paths.member('old~0123456789abcdef'), Buffer.from(JSON.stringify({ id: 'old', capacity: 1, labels: {}, state: 'alive' })), 'ephemeral');
    await waitFor(() => observer.get('old~0123456789abcdef'), { message: 'old member seen' });
    expect(observer.get(w.memberName!)?.types).toEqual(['alpha', 'echo', 'fail', 'sleep', 'zeta']);
    expect(observer.get('old~0123456789abcdef')).toMatchObject({ id: 'old', capacity: 1 });
    expect(observer.get('old~0123456789abcdef')?.types).toBeUndefined();
    observer.stop();
  });

  it('a retryable failure goes back to the queue with attempt 1 and a notBefore', async () => {
    const w = await startWorker();
    const id = await submitAndAssign(w, { type: 'fail', payload: { message: 'boom' }, maxAttempts: 3 });
    const rec = await waitState(id, 'queued');
    expect(rec.attempt).toBe(1);
    expect(rec.notBefore).toBeGreaterThan(0);
    expect(rec.error).toMatchObject({ kind: 'handler', retryable: true, message: 'boom' });
    expect(rec.error?.stack).toMatch(/^Error: boom\n/);
    expect(await session.exists(queueEntryOf(paths, rec))).not.toBeNull();
    expect(await session.exists(paths.assignment(w.memberName!, id, 1))).toBeNull();
  });

  it('a non-retryable failure fails the task at once', async () => {
    const w = await startWorker();
    const id = await submitAndAssign(w, { type: 'fail', payload: { retryable: false, message: 'no way' }, maxAttempts: 3 });
    const rec = await waitState(id, 'failed');
    expect(rec.error).toMatchObject({ kind: 'handler', retryable: false, message: 'no way' });
  });

  it('an unknown type goes back to the queue as a lost attempt (not a used one), with a clear message; the worker keeps running', async () => {
    const w = await startWorker();
    const bad = await submitAndAssign(w, { type: 'nope', maxAttempts: 1 });
    const rec = await waitState(bad, 'queued');
    expect(rec).toMatchObject({ attempt: 1, lost: 1, error: { kind: 'unknown-type', retryable: true } });
    // Back after the unknown-type backoff (the task's first backoff, 1 s), not at once.
    expect(rec.notBefore! - rec.updatedAt).toBe(1000);
    expect(rec.error?.message).toBe(`no handler for task type "nope" on worker ${w.memberName} (known: echo, fail, sleep)`);
    expect(w.state).toBe('running');
    const ok = await submitAndAssign(w, { type: 'echo', payload: 7 });
    expect((await waitState(ok, 'succeeded')).result).toBe(7);
  });

  it('a handler that throws: retryable unless it says otherwise', async () => {
    const w = await startWorker({
      handlers: {
        plain: () => {
          throw new TypeError('plain bug');
        },
        flagged: () => {
          throw Object.assign(new Error('flagged bad input'), { retryable: false });
        },
        classed: async () => {
          throw new NonRetryableError('classed bad input');
        },
      },
    });
    const plain = await submitAndAssign(w, { type: 'plain', maxAttempts: 1 });
    const flagged = await submitAndAssign(w, { type: 'flagged', maxAttempts: 3 });
    const classed = await submitAndAssign(w, { type: 'classed', maxAttempts: 3 });
    expect((await waitState(plain, 'failed')).error).toMatchObject({ kind: 'handler', retryable: true, message: 'plain bug' });
    expect((await waitState(flagged, 'failed')).error).toMatchObject({ kind: 'handler', retryable: false, message: 'flagged bad input' });
    expect((await waitState(classed, 'failed')).error).toMatchObject({ kind: 'handler', retryable: false, message: 'classed bad input' });
  });

  it('whatever a handler throws becomes a bounded message; a changed payload is not stored', async () => {
    const w = await startWorker({
      handlers: {
        bare: () => {
          throw Object.create(null); // no prototype: String() of it throws
        },
        huge: () => {
          throw new Error('x'.repeat(2_000_000));
        },
        mutate: (p: { n: number; pad?: string }, ctx: TaskContext) => {
          p.n += 1;
          p.pad = 'y'.repeat(100_000);
          if (ctx.attempt === 1) throw new Error('again');
          return p.n;
        },
      },
    });
    const bare = await submitAndAssign(w, { type: 'bare', maxAttempts: 1 });
    const huge = await submitAndAssign(w, { type: 'huge', maxAttempts: 1 });
    expect((await waitState(bare, 'failed')).error).toMatchObject({ kind: 'handler', retryable: true, message: '[object Object]' });
    const hugeErr = (await waitState(huge, 'failed')).error!;
    expect(hugeErr.message.length).toBeLessThan(5000);
    expect(hugeErr.message).toContain('(2000000 characters, cut)');
    // The first attempt fails; the retry must see the payload as submitted (n: 1), not as changed.
    const mut = newTaskRecord({ type: 'mutate', payload: { n: 1 }, maxAttempts: 2, backoff: { initialMs: 0, factor: 1, maxMs: 0 } });
    await session.multi(submitOps(paths, mut));
    await session.multi(assignOps(paths, { record: mut, version: 0 }, queueEntryOf(paths, mut), w.memberName!, 1, Date.now(), 5000).ops);
    await waitFor(async () => (await read(mut.id)).record.state === 'queued' && (await read(mut.id)).record.attempt === 1, { message: 'first attempt failed' });
    const requeued = await read(mut.id);
    expect(requeued.record.payload).toEqual({ n: 1 });
    await session.multi(
      assignOps(paths, requeued, queueEntryOf(paths, requeued.record), w.memberName!, 1, Date.now(), 5000).ops,
    );
    expect((await waitState(mut.id, 'succeeded')).result).toBe(2);
  });

  it('runs a record already marked running for its attempt without marking it again', async () => {
    const w = await startWorker();
    const rec = newTaskRecord({ type: 'echo', payload: 'again' });
    await session.multi(submitOps(paths, rec));
    const assigned = assignOps(paths, { record: rec, version: 0 }, queueEntryOf(paths, rec), w.memberName!, 1, Date.now(), 5000);
    const started = startOps(paths, { record: assigned.next, version: 1 }, Date.now());
    await session.multi([...assigned.ops, ...started.ops]);
    const done = await waitState(rec.id, 'succeeded');
    expect(done.result).toBe('again');
    expect(done.startedAt).toBe(started.next.startedAt);
  });

  it('an assigned task whose record is malformed is failed with the reason', async () => {
    const w = await startWorker();
    const id = 'broken-1';
    await session.create(paths.task(id), Buffer.from('{not json'));
    await session.create(paths.assignment(w.memberName!, id, 1));
    const rec = await waitState(id, 'failed');
    expect(rec.error?.kind).toBe('malformed');
    expect(rec.error?.message).toMatch(/not JSON/);
    expect(await session.exists(paths.assignment(w.memberName!, id, 1))).toBeNull();
  });

  it('a result over maxResultBytes fails the task as too-large', async () => {
    const w = await startWorker({ limits: { maxResultBytes: 100 }, handlers: { big: () => 'x'.repeat(200) } });
    const id = await submitAndAssign(w, { type: 'big' });
    const rec = await waitState(id, 'failed');
    expect(rec.error?.kind).toBe('too-large');
    expect(rec.error?.message).toMatch(/over the 100-byte limit/);
  });

  it('a handler that ignores its signal times out and frees its slot', async () => {
    const w = await startWorker({ concurrency: 1, handlers: { hang: () => new Promise(() => undefined) } });
    const id = await submitAndAssign(w, { type: 'hang', timeoutMs: 300, maxAttempts: 1 });
    const rec = await waitState(id, 'failed');
    expect(rec.error).toEqual({ kind: 'timeout', retryable: true, message: 'timed out after 300 ms' });
    // The only slot is free again.
    const next = await submitAndAssign(w, { type: 'echo', payload: 'after' });
    expect((await waitState(next, 'succeeded')).result).toBe('after');
  });

  it('never runs more than concurrency attempts at once', async () => {
    let running = 0;
    let max = 0;
    const w = await startWorker({
      concurrency: 2,
      handlers: {
        count: async (_p: unknown, ctx: TaskContext) => {
          running += 1;
          max = Math.max(max, running);
          try {
            await new Promise((r) => setTimeout(r, 150));
          } finally {
            running -= 1;
          }
          return ctx.taskId;
        },
      },
    });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submitAndAssign(w, { type: 'count' }));
    for (const id of ids) await waitState(id, 'succeeded');
    expect(max).toBe(2);
  });
});
