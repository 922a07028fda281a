// The worker against a real ZooKeeper. The test plays the leader: it submits tasks and
// assigns them to the worker's member with the protocol's own multi builders.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { assignOps, cancelOps, queueEntryOf, startOps, submitOps } from '../shared/protocol/task-ops.js';
import { reclaim } from '../shared/protocol/transitions.js';
import { newTaskRecord, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import { MembershipObserver } from '../shared/zk/membership.js';
import type { ZkSession } from '../shared/zk/session.js';
import { Worker, WorkerOptionError, type WorkerOptions } from '../worker/worker.js';
import { loadHandlers, NonRetryableError, type TaskContext } from '../worker/handlers.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { TEST_SESSION_MS, testLog, zkConnect } from './harness/zk.js';
import { readRecord, submitAndAssignTo, useWorkerFixture } from './harness/worker-fixture.js';
import { waitFor } from './harness/wait-for.js';
import { tempDir } from './harness/temp.js';

const fx = useWorkerFixture({ gracePeriodMs: 5000 });
const startWorker = (opts: Partial<WorkerOptions> = {}) => fx.startWorker(opts);
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

/** Client submit + leader assign, each one multi, as the real ones do. */
async function submitAndAssign(w: Worker, input: SubmitInput): Promise<string> {
  const [t] = await submitAndAssignTo(session, paths, w.memberName!, [input]);
  return t!.record.id;
}

const read = (id: string) => readRecord(session, paths, id);

function waitState(id: string, state: TaskState): Promise<TaskRecord> {
  return waitFor(async () => {
    const { record } = await read(id);
    return record.state === state ? record : null;
  }, { message: `task ${id} in state ${state}` });
}

/** A handler the test releases by hand; it ignores its signal unless told otherwise. */
function gated() {
  let release!: (v: unknown) => void;
  const gate = new Promise((r) => (release = r));
  const seen: { started: boolean; abortReason?: string } = { started: false };
  const handler = async (_payload: unknown, ctx: TaskContext) => {
    seen.started = true;
    ctx.signal.addEventListener('abort', () => (seen.abortReason = (ctx.signal.reason as Error).message));
    return gate;
  };
  return { handler, release, seen };
}

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
    expect(rec.error).toEqual({ kind: 'handler', retryable: true, message: 'boom' });
    expect(await session.exists(queueEntryOf(paths, rec))).not.toBeNull();
    expect(await session.exists(paths.assignment(w.memberName!, id, 1))).toBeNull();
  });

  it('a non-retryable failure fails the task at once', async () => {
    const w = await startWorker();
    const id = await submitAndAssign(w, { type: 'fail', payload: { retryable: false, message: 'no way' }, maxAttempts: 3 });
    const rec = await waitState(id, 'failed');
    expect(rec.error).toEqual({ kind: 'handler', retryable: false, message: 'no way' });
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
    expect((await waitState(plain, 'failed')).error).toEqual({ kind: 'handler', retryable: true, message: 'plain bug' });
    expect((await waitState(flagged, 'failed')).error).toEqual({ kind: 'handler', retryable: false, message: 'flagged bad input' });
    expect((await waitState(classed, 'failed')).error).toEqual({ kind: 'handler', retryable: false, message: 'classed bad input' });
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
    expect((await waitState(bare, 'failed')).error).toEqual({ kind: 'handler', retryable: true, message: '[object Object]' });
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

  it('a drain takes an assignment that arrives before the leader saw it draining', async () => {
    const g = gated();
    const w = await startWorker({ handlers: { wait: g.handler } });
    const running = await submitAndAssign(w, { type: 'wait' });
    await waitState(running, 'running');
    const stopping = w.stop();
    await waitFor(() => w.state === 'draining', { message: 'draining' });
    // A leader round that began before it saw 'draining' commits one more assignment.
    const late = await submitAndAssign(w, { type: 'echo', payload: 'late', maxAttempts: 1 });
    await waitState(late, 'succeeded');
    g.release('done');
    await stopping;
    expect((await read(late)).record).toMatchObject({ state: 'succeeded', result: 'late', attempt: 1 });
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

  it('reports progress on its assignment node', async () => {
    const g = gated();
    const w = await startWorker({
      handlers: {
        prog: async (p: unknown, ctx: TaskContext) => {
          ctx.progress({ done: 1 });
          ctx.progress({ done: 2 }); // within 250 ms: coalesced into a trailing write
          return g.handler(p, ctx);
        },
      },
    });
    const id = await submitAndAssign(w, { type: 'prog' });
    const node = paths.assignment(w.memberName!, id, 1);
    const data = await waitFor(async () => {
      const d = JSON.parse((await session.getData(node)).data.toString('utf8')) as Record<string, unknown>;
      return (d.progress as { done?: number } | undefined)?.done === 2 ? d : null;
    });
    expect(data).toMatchObject({ attempt: 1, epoch: 1 });
    expect(typeof data.progressAt).toBe('number');
    g.release('ok');
    await waitState(id, 'succeeded');
  });

  it('stop() drains: member state draining, the running task commits, the member node goes', async () => {
    const g = gated();
    const w = await startWorker({ handlers: { wait: g.handler } });
    const member = w.memberName!;
    const id = await submitAndAssign(w, { type: 'wait' });
    await waitState(id, 'running');
    const stopping = w.stop();
    expect(w.stop()).toBe(stopping);
    await waitFor(async () => {
      const d = JSON.parse((await session.getData(paths.member(member))).data.toString('utf8')) as { state: string };
      return d.state === 'draining';
    });
    expect(w.state).toBe('draining');
    g.release({ drained: true });
    await stopping;
    expect(w.state).toBe('stopped');
    expect((await read(id)).record).toMatchObject({ state: 'succeeded', result: { drained: true } });
    expect(await session.exists(paths.member(member))).toBeNull();
    await expect(w.start()).rejects.toThrow(/stopped/);
  });

  it('stop() past the grace period aborts the attempt and leaves its assignment to the leader', async () => {
    const g = gated();
    const w = await startWorker({ gracePeriodMs: 200, handlers: { wait: g.handler } });
    const member = w.memberName!;
    const id = await submitAndAssign(w, { type: 'wait' });
    await waitState(id, 'running');
    await w.stop();
    expect(g.seen.abortReason).toBe('worker w1 stopping');
    expect(w.inFlight).toBe(0);
    expect((await read(id)).record.state).toBe('running');
    expect(await session.exists(paths.assignment(member, id, 1))).not.toBeNull();
    expect(await session.exists(paths.member(member))).toBeNull();
    g.release('never committed');
  });

  it('a shared session is not closed by the worker', async () => {
    const shared = await fx.openSession();
    const w = await startWorker({ session: shared, connectString: undefined });
    const id = await submitAndAssign(w, { type: 'echo', payload: 1 });
    await waitState(id, 'succeeded');
    await w.stop();
    expect(shared.state).toBe('connected');
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

  it('validates options, naming the field and value', async () => {
    expect(() => new Worker({ id: 'bad id', connectString: 'x:1' })).toThrow(WorkerOptionError);
    expect(() => new Worker({ id: 'w', connectString: 'x:1', concurrency: 0 })).toThrow(/concurrency = 0/);
    expect(() => new Worker({ id: 'w' })).toThrow(/connectString/);
    // A root the server would refuse in its own words is refused here, before connecting.
    for (const root of ['/a//b', '/w/../x', '/x/', 'drover']) expect(() => new Worker({ id: 'w', connectString: 'x:1', root })).toThrow(/root/);
    expect(() => new Worker({ id: 'w', connectString: 'x:1', handlers: { a: 1 as never } })).toThrow(/handlers\.a/);
    await expect(new Worker({ id: 'w', connectString: 'x:1' }).stop()).rejects.toThrow(/initialized/);
  });
});

describe('loadHandlers', () => {
  const dir = tempDir('drover-handlers-');
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('accepts a default object, a handlers export, or named functions', async () => {
    const a = await loadHandlers(file('a.mjs', 'export default { up: (p) => String(p).toUpperCase() };'));
    const b = await loadHandlers(file('b.mjs', 'export const handlers = { down: (p) => p };'));
    const c = await loadHandlers(file('c.mjs', 'export function one() {} export const two = () => 2;'));
    expect(Object.keys(a)).toEqual(['up']);
    expect(Object.keys(b)).toEqual(['down']);
    expect(Object.keys(c).sort()).toEqual(['one', 'two']);
  });

  it('names the module and key of a non-function, and a missing module', async () => {
    const bad = file('bad.mjs', 'export default { ok: () => 1, nope: 42 };');
    await expect(loadHandlers(bad)).rejects.toThrow(`handler module ${bad}: default export key "nope" is a number, not a function`);
    await expect(loadHandlers(join(dir, 'missing.mjs'))).rejects.toThrow(/handler module not found: .*missing\.mjs/);
  });
});
