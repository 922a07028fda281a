// The attempt history (shared/protocol/attempt-history.ts, appended by the state machine in
// the multi that ends each attempt): real cluster runs (fail, fail, succeed; a worker process
// killed -9), its bounds (MAX_HISTORY, messages, stacks, bytes), and a finish of the largest
// record with a full history of the largest errors, committed by the real server.
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_HISTORY_BYTES, MAX_HISTORY_MESSAGE_CHARS, appendHistory } from '../shared/protocol/attempt-history.js';
import { MAX_HISTORY, MAX_REQUEST_BYTES, MAX_STACK_CHARS, RECORD_ROOM_BYTES, checkLimits, decodeRecord, encodeRecord, jsonBytes, newTaskRecord, MalformedRecordError, type AttemptEntry, type TaskError } from '../shared/protocol/task-record.js';
import { assignTask, failAttempt, startTask } from '../shared/protocol/task-state.js';
import { finish } from '../shared/protocol/transitions.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { ProcessPool } from './harness/processes.js';
import { readRecord, submitAndAssignTo } from './harness/worker-fixture.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const cleanups: Array<() => Promise<void>> = [];
const sessions = new SessionPool();
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  await sessions.closeAll();
});

async function cluster(): Promise<TestCluster> {
  const c = await startCluster({ masters: 1 });
  cleanups.push(() => c.stop());
  return c;
}

/** The worst an error can be for its size: every character JSON-escaped to 6 bytes. */
const worstError = (): TaskError => ({ kind: 'handler', retryable: true, message: '\u0001'.repeat(5000), stack: '\u0002'.repeat(5000) });

describe('attempt history', () => {
  it('fails twice then succeeds: three entries, with outcomes, messages and the handler stacks', async () => {
    const c = await cluster();
    await c.addWorker({
      id: 'wh',
      handlers: {
        twice: (_p, ctx) => {
          if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
          return 'third time';
        },
      },
    });
    const { id } = await c.client.submit({ type: 'twice', maxAttempts: 3, backoff: { initialMs: 0 } });
    const rec = await c.client.wait(id, { timeoutMs: 10_000 });
    expect(rec.state).toBe('succeeded');
    const h = rec.history!;
    expect(h.map((e) => [e.attempt, e.outcome, e.error?.message])).toEqual([
      [1, 'failed', 'boom 1'],
      [2, 'failed', 'boom 2'],
      [3, 'succeeded', undefined],
    ]);
    for (const e of h) {
      expect(e.worker).toMatch(/^wh~/);
      expect(e.startedAt).toBeGreaterThanOrEqual(e.assignedAt!);
      expect(e.endedAt).toBeGreaterThanOrEqual(e.startedAt!);
    }
    expect(h[0]!.error!.stack).toMatch(/boom 1[\s\S]*\n\s+at /);
  });

  it('a worker process killed -9 mid-task: its attempt is a lost entry', async () => {
    const c = await cluster();
    const procs = new ProcessPool();
    cleanups.push(() => procs.killAll());
    const w = procs.spawn('w-kill', ['worker', '--id', 'w-kill', '--zk', zkConnect(), '--root', c.paths.root, '--session-timeout', String(TEST_SESSION_MS)]);
    await w.waitForLine((l) => l.msg === 'worker alive');
    const { id } = await c.client.submit({ type: 'sleep', payload: { ms: 60_000 } });
    await waitFor(async () => (await c.client.get(id))?.state === 'running', { message: 'running on the process' });
    w.kill9();
    const rec = await waitFor(async () => {
      const r = await c.client.get(id);
      return r?.history?.length ? r : null;
    }, { timeoutMs: 15_000, message: 'the lost entry' });
    expect(rec.history).toHaveLength(1);
    expect(rec.history![0]).toMatchObject({ attempt: 1, outcome: 'lost', error: { kind: 'worker-lost' } });
    expect(rec.history![0]!.worker).toMatch(/^w-kill~/);
    expect(rec.history![0]!.startedAt).toBeDefined();
    await c.client.cancel(id).catch(() => undefined);
  });

  it('keeps the last MAX_HISTORY entries, messages and stacks cut, within MAX_HISTORY_BYTES', () => {
    let r = newTaskRecord({ type: 'x', maxAttempts: 1000 });
    for (let i = 1; i <= 25; i++) {
      r = startTask(assignTask(r, `w~${i}`, 1, i * 10), i * 10 + 1);
      r = failAttempt(r, i % 2 ? worstError() : { kind: 'handler', retryable: true, message: `m${i}`, stack: 's' }, i * 10 + 2);
    }
    const h = r.history!;
    expect(h.length).toBeLessThanOrEqual(MAX_HISTORY);
    expect(h.at(-1)!.attempt).toBe(25);
    expect(h.map((e) => e.attempt)).toEqual(h.map((_, k) => 25 - h.length + 1 + k));
    expect(jsonBytes(h)).toBeLessThanOrEqual(MAX_HISTORY_BYTES);
    for (const e of h) {
      expect(e.error!.message.length).toBeLessThanOrEqual(MAX_HISTORY_MESSAGE_CHARS);
      expect(e.error!.stack!.length).toBeLessThanOrEqual(MAX_STACK_CHARS);
    }
    // Ten small failures are all kept.
    let s = newTaskRecord({ type: 'x', maxAttempts: 1000 });
    for (let i = 1; i <= 12; i++) s = failAttempt(startTask(assignTask(s, 'w~1', 1, i), i), { kind: 'handler', retryable: true, message: 'no' }, i);
    expect(s.history!.map((e) => e.attempt)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('a stored history is read leniently: absent is fine, unreadable entries are dropped, the record kept (and written without them)', () => {
    const r = newTaskRecord({ type: 'x' });
    expect(decodeRecord(encodeRecord(r)).history).toBeUndefined();
    const read = (history: unknown) => decodeRecord(Buffer.from(JSON.stringify({ ...r, history })));
    const good = { attempt: 1, worker: null, endedAt: 1, outcome: 'lost', error: { message: 'm', kind: 'worker-lost', retryable: true } };
    expect(read('x').history).toBeUndefined();
    expect('history' in read('x')).toBe(false);
    // An outcome from a later drover, a bad worker: dropped; the readable entries stay, in order.
    const later = { attempt: 2, worker: 'w', endedAt: 2, outcome: 'exploded' };
    const mixed = read([good, later, { attempt: 3, worker: 3, endedAt: 1, outcome: 'failed' }, { ...good, attempt: 4 }]);
    expect(mixed.history!.map((e) => e.attempt)).toEqual([1, 4]);
    expect(read([later]).history).toBeUndefined();
    // What a transition writes next holds only what was read.
    const next = failAttempt(startTask(assignTask(read([later, good]), 'w~1', 1, 5), 6), { kind: 'handler', retryable: true, message: 'b' }, 7);
    const stored = JSON.parse(encodeRecord(next).toString('utf8')) as { history: Array<{ outcome: string }> };
    expect(stored.history.map((e) => e.outcome)).toEqual(['lost', 'failed']);
    // Still refused: what the record itself needs.
    expect(() => decodeRecord(Buffer.from(JSON.stringify({ ...r, state: 'exploded' })))).toThrow(MalformedRecordError);
  });

  it('the largest record, labels, result or error and a full history still finish in one request (size check, real server)', async () => {
    // No master: the assignments are made by hand to a member that does not exist.
    const admin = await sessions.open();
    const c = { admin, paths: await freshLayout(admin) };
    const maxPayloadBytes = 512 * 1024;
    const limits = checkLimits({ maxPayloadBytes, maxResultBytes: MAX_REQUEST_BYTES - RECORD_ROOM_BYTES - maxPayloadBytes });
    const labels: Record<string, string> = { big: 'l'.repeat(8 * 1024 - 10) }; // 8 KiB as JSON: the cap
    const payload = 'p'.repeat(maxPayloadBytes - 2);
    const input = { type: 'x', payload, labels, maxAttempts: 1000 };
    const curs = await submitAndAssignTo(c.admin, c.paths, 'w-size~1', [input, input], limits);
    const tx = { session: c.admin, paths: c.paths };
    const withFullHistory = async (cur: (typeof curs)[number]) => {
      // A full history, as earlier attempts would have left it: ten entries of ~3.9 KB, near MAX_HISTORY_BYTES.
      const entry = failAttempt(startTask(cur.record, 2), { kind: 'handler', retryable: true, message: 'm'.repeat(2000), stack: '\u0001'.repeat(450) }, 3).history![0]!;
      let history: AttemptEntry[] = [];
      for (let k = 1; k <= MAX_HISTORY; k++) history = appendHistory(history, { ...entry, attempt: k });
      const full = { ...cur.record, history };
      expect(full.history).toHaveLength(MAX_HISTORY);
      expect(jsonBytes(full.history)).toBeGreaterThan(MAX_HISTORY_BYTES * 0.95);
      const stat = await c.admin.setData(c.paths.task(full.id), encodeRecord(full), cur.version);
      return { record: full, version: stat.version };
    };
    // A failure with the largest error.
    const failing = await withFullHistory(curs[0]!);
    const v = await finish(tx, failing, { kind: 'failure', error: worstError() }, Date.now());
    expect(v.kind).toBe('committed');
    expect(v.cut).toBeUndefined(); // the message was not cut to fit
    const after = (await readRecord(c.admin, c.paths, failing.record.id)).record;
    expect(after.state).toBe('queued');
    expect(after.error!.message).toHaveLength(4096);
    expect(after.error!.stack).toHaveLength(MAX_STACK_CHARS);
    expect(jsonBytes(after.history)).toBeLessThanOrEqual(MAX_HISTORY_BYTES);
    // A success with the largest result beside the largest payload.
    const succeeding = await withFullHistory(curs[1]!);
    const result = 'r'.repeat(limits.maxResultBytes - 2);
    const s = await finish(tx, succeeding, { kind: 'success', result }, Date.now());
    expect(s.kind).toBe('committed');
    expect(s.cut).toBeUndefined(); // the result was stored, not cut out as too-large
    const done = (await readRecord(c.admin, c.paths, succeeding.record.id)).record;
    expect(done.state).toBe('succeeded');
    expect((done.result as string).length).toBe(result.length);
    expect(done.history!.at(-1)!.outcome).toBe('succeeded');
    expect(jsonBytes(done.history)).toBeLessThanOrEqual(MAX_HISTORY_BYTES);
  });
});
