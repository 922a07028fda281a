// Retrying failed and cancelled tasks (issue 14 part 3): `drover retry ID` queues one again
// with a fresh attempt budget and its history kept; `drover retry --state S --type T` every
// one of a state and type; refusals in one line with their exit codes. Real CLI processes
// against an in-process cluster on the suite's ZooKeeper; handlers fail until told not to.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { retryMany } from '../client/retry.js';
import { DeadLetter } from '../master/dashboard/dead-letter.js';
import { DEFAULT_LIMITS, MalformedRecordError, decodeRecord, encodeRecord, newTaskRecord } from '../shared/protocol/task-record.js';
import { cancel, submit } from '../shared/protocol/client-transitions.js';
import { readTask } from '../shared/protocol/task-store.js';
import { assignTask, failAttempt, retryTask, startTask } from '../shared/protocol/task-state.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { NonRetryableError } from '../worker/handlers.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli } from './harness/cli-run.js';
import { tempDir } from './harness/temp.js';
import { waitFor } from './harness/wait-for.js';
import { freshLayout, zkConnect } from './harness/zk.js';

/** Keys whose tasks succeed; every other one fails (retryable unless the payload says not). */
const healthy = new Set<string>();
const gate = (p: { key: string; retryable?: boolean }) => {
  if (healthy.has(p.key)) return { ok: p.key };
  throw p.retryable === false ? new NonRetryableError(`${p.key} is down\nsecond line`) : new Error(`${p.key} is down`);
};
let c: TestCluster;
let g: string[] = [];
beforeAll(async () => {
  c = await startCluster({ workers: [{ id: 'retry-w1', concurrency: 8, handlers: { gate, 'gate-a': gate, 'gate-b': gate, 'gate-c': gate } }] });
  g = ['--zk', zkConnect(), '--root', c.paths.root, '--session-timeout', '2s'];
});
afterAll(async () => {
  await c?.stop();
});

const NO_BACKOFF = { initialMs: 0, maxMs: 0 };
const get = async (id: string) => (await c.client.get(id)) as TaskRecord;
const ended = (id: string) => c.client.wait(id);
/** Waits until the record is terminal again after a retry (wait() would return a terminal record at once). */
const endedAgain = (id: string, retries: number) =>
  waitFor(async () => {
    const r = await get(id);
    return r.retries === retries && ['succeeded', 'failed', 'cancelled'].includes(r.state) ? r : null;
  }, { timeoutMs: 10_000, message: `${id} finished after retry ${retries}` });

describe('drover retry ID', () => {
  it('a task that used up its attempts runs again with a full budget, then succeeds; its history keeps every attempt', async () => {
    await c.client.submit({ type: 'gate', id: 'used-up', payload: { key: 'used-up' }, maxAttempts: 2, backoff: NO_BACKOFF });
    expect(await ended('used-up')).toMatchObject({ state: 'failed', attempt: 2 });
    // Still down: the retry gets maxAttempts (2) more tries, not one.
    let r = await runCli(['retry', 'used-up', ...g]);
    expect(r, r.stderr).toMatchObject({ code: EXIT.ok, stdout: 'used-up queued again\n' });
    const again = await endedAgain('used-up', 1);
    expect(again).toMatchObject({ state: 'failed', attempt: 4, attemptBase: 2, lost: 0 });
    expect(again.history!.map((h) => [h.attempt, h.outcome])).toEqual([[1, 'failed'], [2, 'failed'], [3, 'failed'], [4, 'failed']]);
    healthy.add('used-up');
    r = await runCli(['retry', 'used-up', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const done = await endedAgain('used-up', 2);
    expect(done).toMatchObject({ state: 'succeeded', attempt: 5, attemptBase: 4, result: { ok: 'used-up' } });
    expect(done.error).toBeUndefined();
    expect(done.history!.map((h) => h.outcome)).toEqual(['failed', 'failed', 'failed', 'failed', 'succeeded']);
    const shown = await runCli(['get', 'used-up', ...g]);
    expect(shown.stdout).toMatch(/^attempt: {3}5 \(1 of 2 used, 0 of 10 lost to infrastructure\)$/m);
    expect(shown.stdout).toMatch(/^retried: {3}2 times, last \d{4}-.*Z \(budget from attempt 5\)$/m);
    expect(shown.stdout).toMatch(/^ {2}#4 .*failed/m);
  });

  it('a task failed by a non-retryable error is retried too', async () => {
    await c.client.submit({ type: 'gate', id: 'fatal', payload: { key: 'fatal', retryable: false }, maxAttempts: 3, backoff: NO_BACKOFF });
    expect(await ended('fatal')).toMatchObject({ state: 'failed', attempt: 1 });
    healthy.add('fatal');
    expect((await c.client.retry('fatal'))).toEqual({ retried: true, state: 'queued' });
    expect(await endedAgain('fatal', 1)).toMatchObject({ state: 'succeeded', attempt: 2 });
  });

  it('a cancelled task likewise: a delayed one cancelled before it ran is queued to run now', async () => {
    healthy.add('cancelled');
    await c.client.submit({ type: 'gate', id: 'cancelled', payload: { key: 'cancelled' }, delayMs: 3_600_000 });
    await c.client.cancel('cancelled');
    const r = await runCli(['retry', 'cancelled', '--json', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toEqual({ id: 'cancelled', retried: true, state: 'queued' });
    expect(await endedAgain('cancelled', 1)).toMatchObject({ state: 'succeeded', attempt: 1 });
  });

  it('a succeeded, running or queued task is refused in one line (exit 1); an unknown id is exit 4', async () => {
    let r = await runCli(['retry', 'used-up', ...g]);
    expect(r).toMatchObject({ code: EXIT.error, stdout: '', stderr: 'drover: task used-up is succeeded: only failed or cancelled tasks can be retried\n' });
    await c.client.submit({ type: 'sleep', id: 'busy', payload: { ms: 60_000 } });
    await waitFor(async () => (await get('busy')).state === 'running', { message: 'busy running' });
    r = await runCli(['retry', 'busy', ...g]);
    expect(r).toMatchObject({ code: EXIT.error, stderr: 'drover: task busy is running: only failed or cancelled tasks can be retried\n' });
    await c.client.cancel('busy');
    // Retried twice: the second finds it queued (labels nobody has: it stays queued).
    await c.client.submit({ type: 'gate', id: 'parked', payload: { key: 'parked' }, labels: { gpu: 'none' } });
    await c.client.cancel('parked');
    expect((await runCli(['retry', 'parked', ...g])).code).toBe(EXIT.ok);
    r = await runCli(['retry', 'parked', ...g]);
    expect(r).toMatchObject({ code: EXIT.error, stderr: 'drover: task parked is already queued: only failed or cancelled tasks can be retried\n' });
    r = await runCli(['retry', 'no-such-task', ...g]);
    expect(r).toMatchObject({ code: EXIT.notFound, stderr: 'drover: task no-such-task not found\n' });
    expect((await runCli(['retry', ...g])).code).toBe(EXIT.usage);
    expect((await runCli(['retry', 'x', '--state', 'failed', ...g])).code).toBe(EXIT.usage);
    expect((await runCli(['retry', '--state', 'succeeded', ...g])).code).toBe(EXIT.usage);
  });
});

describe('drover retry --state', () => {
  it('retries exactly the failed tasks of the type (a dry run without --yes); the others are untouched', async () => {
    const a = ['a1', 'a2', 'a3'];
    const b = ['b1', 'b2'];
    await c.client.submitMany([
      ...a.map((id) => ({ type: 'gate-a', id, payload: { key: id, retryable: false } })),
      ...b.map((id) => ({ type: 'gate-b', id, payload: { key: id, retryable: false } })),
    ]);
    await c.client.submit({ type: 'gate-a', id: 'a-ok', payload: { key: 'a-ok' } });
    healthy.add('a-ok');
    await c.client.waitMany([...a, ...b, 'a-ok']).catch(() => undefined);
    await waitFor(async () => (await Promise.all([...a, ...b].map(get))).every((r) => r.state === 'failed'), { message: 'all failed' });
    for (const id of [...a, ...b]) healthy.add(id);

    let r = await runCli(['retry', '--state', 'failed', '--type', 'gate-a', ...g]);
    expect(r).toMatchObject({ code: EXIT.ok, stdout: '3 failed tasks of type gate-a would be queued again (dry run: add --yes to retry them)\n' });
    expect((await get('a1')).state).toBe('failed');
    r = await runCli(['retry', '--state', 'failed', '--type', 'gate-a', '--yes', '--json', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'failed', type: 'gate-a', dryRun: false, matched: 3, retried: 3, changed: 0 });
    for (const id of a) expect(await endedAgain(id, 1)).toMatchObject({ state: 'succeeded', attempt: 2 });
    for (const id of b) {
      const rec = await get(id);
      expect(rec).toMatchObject({ state: 'failed', attempt: 1 });
      expect(rec.retries).toBeUndefined();
    }
    const ok = await get('a-ok');
    expect([ok.state, ok.retries]).toEqual(['succeeded', undefined]);
    // --yes only from the command line: the env var alone is still a dry run, a file's key is refused.
    r = await runCli(['retry', '--state', 'failed', '--type', 'gate-b', ...g], { env: { DROVER_RETRY_YES: 'true' } });
    expect(r).toMatchObject({ code: EXIT.ok, stdout: '2 failed tasks of type gate-b would be queued again (dry run: add --yes to retry them)\n' });
    const file = join(tempDir('retry-yes-'), 'drover.json');
    writeFileSync(file, JSON.stringify({ retry: { yes: true } }));
    r = await runCli(['retry', '--state', 'failed', '--type', 'gate-b', '--config', file, ...g]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toMatch(/unknown key "retry\.yes"/);
    expect((await Promise.all(b.map(get))).every((x) => x.state === 'failed' && x.retries === undefined)).toBe(true);
    expect((await runCli(['retry', '--help'])).stdout).toContain('unless --yes is given on the command line');
    // --limit: at most that many.
    r = await runCli(['retry', '--state', 'failed', '--type', 'gate-b', '--limit', '1', '--yes', ...g]);
    expect(r).toMatchObject({ code: EXIT.ok, stdout: '1 failed task of type gate-b queued again\n' });
    expect((await Promise.all(b.map(get))).filter((x) => x.retries === 1)).toHaveLength(1);
  });
});

describe('retryMany (library)', () => {
  it('keeps only the matching records of a step and ends a step at its byte budget: more steps, the same tasks retried; --limit takes that many', async () => {
    // A root of its own (no leader: retried tasks stay queued), so this test alone decides the
    // scan order: the matches (cancelled gate-c) are all in the first shard scanned, the other
    // records (cancelled gate-z, big payloads a bulk retry reads and must not hold) after them.
    const paths = await freshLayout(c.admin);
    const tx = { session: c.admin, paths };
    const first = paths.shardNames[0]!;
    const named = (prefix: string, n: number, inFirst: boolean) => {
      const out: string[] = [];
      for (let i = 0; out.length < n; i++) if ((paths.shard(`${prefix}-${i}`) === first) === inFirst) out.push(`${prefix}-${i}`);
      return out;
    };
    const others = named('c-other', 12, false);
    const wanted = named('c-want', 6, true);
    const pad = 'x'.repeat(20_000);
    for (const [id, type, payload] of [...others.map((id) => [id, 'gate-z', { pad }] as const), ...wanted.map((id) => [id, 'gate-c', { pad: pad.slice(0, 2000) }] as const)]) {
      expect((await submit(tx, newTaskRecord({ type, id, payload }, DEFAULT_LIMITS, Date.now()))).kind).toBe('committed');
      const cur = await readTask(c.admin, paths, id);
      if (cur.kind !== 'ok') throw new Error(`${id}: ${cur.kind}`);
      expect((await cancel(tx, cur, 'operator', Date.now())).kind).toBe('committed');
    }
    const read = async (id: string) => {
      const r = await readTask(c.admin, paths, id);
      if (r.kind !== 'ok') throw new Error(`${id}: ${r.kind}`);
      return r.record;
    };
    // The default budget: one step. A 1-byte budget: every read group with a match ends one.
    const whole = await retryMany(tx, { state: 'cancelled', type: 'gate-c', dryRun: true });
    expect(whole).toMatchObject({ matched: 6, retried: 0, changed: 0, scanned: 18, steps: 1 });
    const dry = await retryMany(tx, { state: 'cancelled', type: 'gate-c', dryRun: true }, 1);
    expect(dry).toMatchObject({ matched: 6, retried: 0, changed: 0, scanned: 18 });
    expect(dry.steps).toBeGreaterThan(1);
    // --limit with small steps: exactly that many, of the 6 that match; then the rest.
    expect(await retryMany(tx, { state: 'cancelled', type: 'gate-c', limit: 2 }, 1)).toMatchObject({ matched: 2, retried: 2, changed: 0 });
    expect((await Promise.all(wanted.map(read))).filter((r) => r.retries === 1)).toHaveLength(2);
    expect(await retryMany(tx, { state: 'cancelled', type: 'gate-c' }, 1)).toMatchObject({ matched: 4, retried: 4, changed: 0 });
    expect((await Promise.all(wanted.map(read))).every((r) => r.state === 'queued' && r.retries === 1)).toBe(true);
    expect((await Promise.all(others.map(read))).every((r) => r.state === 'cancelled' && r.retries === undefined)).toBe(true);
  });
});

describe('retry times (pure)', () => {
  it('a record that failed after the retry\'s clock read keeps its time going forward; retriedAt is the caller\'s token', () => {
    let r = newTaskRecord({ type: 't', id: 'late', maxAttempts: 1 }, DEFAULT_LIMITS, 0);
    r = failAttempt(startTask(assignTask(r, 'w~1', 1, 100), 200), { kind: 'handler', retryable: false, message: 'x' }, 300);
    // A bulk retry that read its clock at 250, before this task failed at 300.
    const q = retryTask(r, 250);
    expect([q.state, q.updatedAt, q.retriedAt]).toEqual(['queued', 300, 250]);
    const dl = new DeadLetter();
    expect(dl.take(r)).toBe(true);
    expect(dl.take(q)).toBe(true);
    expect(dl.size).toBe(0);
    expect(retryTask(r, 400).updatedAt).toBe(400);
  });
});

describe('record codec: the retry fields', () => {
  it('reads records with and without attemptBase (older drovers wrote none); refuses attemptBase past attempt', () => {
    const failed = failAttempt(startTask(assignTask(newTaskRecord({ type: 't', id: 'codec' }, DEFAULT_LIMITS, 0), 'w~1', 1, 10), 20), { kind: 'handler', retryable: false, message: 'x' }, 30);
    const before = decodeRecord(encodeRecord(failed), 'codec');
    expect([before.attemptBase, before.retries, before.retriedAt]).toEqual([undefined, undefined, undefined]);
    const retried = retryTask(failed, 40);
    expect(decodeRecord(encodeRecord(retried), 'codec')).toMatchObject({ state: 'queued', attempt: 1, attemptBase: 1, retries: 1, retriedAt: 40 });
    const raw = (patch: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...JSON.parse(encodeRecord(retried).toString('utf8')), ...patch }));
    expect(() => decodeRecord(raw({ attemptBase: 2 }), 'codec')).toThrow(MalformedRecordError);
    expect(() => decodeRecord(raw({ attemptBase: 2 }), 'codec')).toThrow(/attemptBase is past its attempt/);
    expect(() => decodeRecord(raw({ attemptBase: -1 }), 'codec')).toThrow(/attemptBase is not a count/);
    expect(() => decodeRecord(raw({ retriedAt: 'soon' }), 'codec')).toThrow(/retriedAt is not a number/);
  });
});
