// The worker's lifecycle against a real ZooKeeper: progress on its assignment node, draining
// and stopping (within and past the grace period), a borrowed session, option checks; and
// loading handler modules.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { Worker, WorkerOptionError } from '../worker/worker.js';
import { loadHandlers, type TaskContext } from '../worker/handlers.js';
import { gated, useWorkerSuite } from './harness/worker-helpers.js';
import { waitFor } from './harness/wait-for.js';
import { tempDir } from './harness/temp.js';

const { fx, startWorker, submitAndAssign, read, waitState } = useWorkerSuite();
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

describe('worker lifecycle', () => {
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
