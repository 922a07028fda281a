// What a worker logs must be true. Its own commit removes its assignment, so a listing that
// saw the node gone before the attempt left the in-flight set called it "withdrawn"; a
// user's cancel ended in "WARN commit fenced", as if something had gone wrong. The test plays
// the leader with the protocol's own multi builders and reads the worker's pino lines.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { assignOps, cancelOps, queueEntryOf, submitOps } from '../shared/protocol/task-ops.js';
import { reclaim } from '../shared/protocol/transitions.js';
import { newTaskRecord, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import type { ZkSession } from '../shared/zk/session.js';
import type { TaskContext } from '../worker/handlers.js';
import { Worker, type WorkerOptions } from '../worker/worker.js';
import { submitAndAssignTo, useWorkerFixture } from './harness/worker-fixture.js';
import { waitFor } from './harness/wait-for.js';

interface Line {
  level: number;
  msg: string;
  taskId?: string;
  [k: string]: unknown;
}

const fx = useWorkerFixture({ gracePeriodMs: 1000 });
let session: ZkSession;
let paths: Paths;
let lines: Line[];
beforeEach(() => {
  ({ session, paths } = fx);
  lines = [];
});

async function startWorker(opts: Partial<WorkerOptions> = {}): Promise<Worker> {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Line);
      cb();
    },
  });
  return fx.startWorker({ log: pino({ level: 'debug' }, sink), ...opts });
}

async function submitAndAssign(w: Worker, input: SubmitInput): Promise<string> {
  const [t] = await submitAndAssignTo(session, paths, w.memberName!, [input]);
  return t!.record.id;
}

async function read(id: string): Promise<{ record: TaskRecord; version: number }> {
  const r = await readTask(session, paths, id);
  if (r.kind !== 'ok') throw new Error(`task ${id} is ${r.kind}`);
  return r;
}

/** Runs until aborted; then throws the abort reason (as a handler honouring its signal does). */
const untilAborted = (_p: unknown, ctx: TaskContext) =>
  new Promise((_res, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason as Error)));

describe('worker logs', () => {
  it('tasks that succeed are never reported withdrawn', async () => {
    // Attempts that end together commit together: listings (woken by the first commit's
    // delete) run while the others' commits are landing.
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const w = await startWorker({ concurrency: 16, handlers: { gated: async (p: unknown) => (await gate, p) } });
    const ids: string[] = [];
    for (let round = 0; round < 4; round++) {
      const batch = await Promise.all(Array.from({ length: 16 }, (_, i) => submitAndAssign(w, { type: 'gated', payload: round * 16 + i })));
      await waitFor(async () => (await Promise.all(batch.map(read))).every((r) => r.record.state === 'running'), { message: 'the round running' });
      release();
      await waitFor(async () => (await Promise.all(batch.map(read))).every((r) => r.record.state === 'succeeded'), { message: 'the round succeeded' });
      gate = new Promise<void>((r) => (release = r));
      ids.push(...batch);
    }
    await waitFor(() => w.inFlight === 0);
    expect(lines.filter((l) => l.outcome === 'succeeded' && l.level === 30).length).toBe(ids.length);
    expect(lines.filter((l) => /withdrawn/.test(l.msg)).map((l) => `${l.taskId}: ${l.msg}`)).toEqual([]);
  });

  it("a user's cancel is an info line saying cancelled and why, not a fenced warning; a reclaim stays a warning", async () => {
    const w = await startWorker({ handlers: { wait: untilAborted } });
    const id = await submitAndAssign(w, { type: 'wait' });
    await waitFor(async () => (await read(id)).record.state === 'running', { message: 'running' });
    await session.multi(cancelOps(paths, await read(id), 'cancelled by alice', Date.now()).ops);
    await waitFor(() => w.stats.fenced === 1, { message: 'attempt over' });
    const mine = lines.filter((l) => l.taskId === id);
    expect(mine.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([]);
    // Its one line (the abort on seeing the assignment go is debug).
    expect(mine.filter((l) => l.level >= 30).map((l) => l.msg)).toEqual([`attempt cancelled: cancelled by alice; its outcome is not stored`]);

    // A real fence (the leader took the task back) is still a warning.
    const other = await submitAndAssign(w, { type: 'wait', maxAttempts: 3 });
    await waitFor(async () => (await read(other)).record.state === 'running', { message: 'running' });
    const fenceNode = `${paths.root}/test-leader`;
    await session.create(fenceNode);
    const lost = { kind: 'timeout' as const, retryable: true, message: 'deadline passed' };
    const leader = { session, paths, fence: () => ({ op: 'check' as const, path: fenceNode }) };
    expect((await reclaim(leader, await read(other), lost, Date.now(), false)).kind).toBe('committed');
    await waitFor(() => w.stats.fenced === 2, { message: 'second attempt fenced' });
    // One line, saying what happened: no commit was sent (the withdrawn assignment was its fence).
    const said = lines.filter((l) => l.taskId === other && l.level >= 30);
    expect(said.map((l) => [l.level, l.outcome])).toEqual([[40, 'fenced']]);
    expect(said[0]!.msg).toBe(`commit fenced for task ${other} attempt 1: assignment withdrawn while it ran (taken back); no commit sent`);
  });
});
