// Delayed tasks (submit's delayMs/runAt, the CLI's --delay/--run-at): the record is queued
// with notBefore from the start and the leader holds it until then by its own timer, across
// a leader kill -9. One machine, so submitter, leader and worker share a clock.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { EXIT } from '../cli/exit-codes.js';
import { parseIsoTime } from '../cli/run-at.js';
import { clock, eventLine, heldLine } from '../cli/task-lines.js';
import { Paths } from '../shared/protocol/paths.js';
import { MAX_DELAY_MS, newTaskRecord, TaskValidationError } from '../shared/protocol/task-record.js';
import { readLeader } from '../shared/zk/election.js';
import { Worker } from '../worker/worker.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { ProcessPool } from './harness/processes.js';
import { tempDir } from './harness/temp.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
const pool = new SessionPool();
const procs = new ProcessPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await cluster?.stop();
  cluster = undefined;
  await procs.killAll();
  await pool.closeAll();
});

const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
};

describe('the record of a delayed submission', () => {
  it('carries runAt and notBefore (delayMs from now, runAt as ms or Date); the bounds name their field', () => {
    const now = 1_700_000_000_000;
    expect(newTaskRecord({ type: 'echo', delayMs: 1500 }, undefined, now)).toMatchObject({ runAt: now + 1500, notBefore: now + 1500 });
    expect(newTaskRecord({ type: 'echo', runAt: new Date(now + 60_000) }, undefined, now)).toMatchObject({ runAt: now + 60_000, notBefore: now + 60_000 });
    // Now, past or a zero delay: at once, a plain record.
    for (const r of [newTaskRecord({ type: 'echo', runAt: now - 5 }, undefined, now), newTaskRecord({ type: 'echo', delayMs: 0 }, undefined, now)]) {
      expect(r.runAt).toBeUndefined();
      expect(r.notBefore).toBeUndefined();
    }
    const field = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(TaskValidationError);
        return (err as TaskValidationError).field;
      }
      throw new Error('accepted');
    };
    expect(field(() => newTaskRecord({ type: 'echo', delayMs: MAX_DELAY_MS + 1 }, undefined, now))).toBe('delayMs');
    expect(field(() => newTaskRecord({ type: 'echo', delayMs: -1 }, undefined, now))).toBe('delayMs');
    expect(field(() => newTaskRecord({ type: 'echo', runAt: now + MAX_DELAY_MS + 1 }, undefined, now))).toBe('runAt');
    expect(field(() => newTaskRecord({ type: 'echo', runAt: new Date('nope') }, undefined, now))).toBe('runAt');
    expect(field(() => newTaskRecord({ type: 'echo', delayMs: 10, runAt: now + 10 }, undefined, now))).toBe('runAt');
    expect(newTaskRecord({ type: 'echo', delayMs: MAX_DELAY_MS }, undefined, now).notBefore).toBe(now + MAX_DELAY_MS);
  });

  it('--run-at reads ISO 8601 with a zone, strictly', () => {
    expect(parseIsoTime('2030-05-01T12:00:00Z')).toBe(Date.UTC(2030, 4, 1, 12));
    expect(parseIsoTime('2030-05-01T14:00:00.250+02:00')).toBe(Date.UTC(2030, 4, 1, 12, 0, 0, 250));
    expect(parseIsoTime('2030-05-01T12:00-01:30')).toBe(Date.UTC(2030, 4, 1, 13, 30));
    for (const bad of ['2030-05-01T12:00:00', '2030-05-01', '2030-02-30T00:00:00Z', '2030-05-01T24:00:00Z', 'tomorrow', '1714564800000']) {
      expect(parseIsoTime(bad), bad).toBeNaN();
    }
  });

  it('drover get and watch say when it runs: "runs at" while delayed, "not before" for a backoff', () => {
    const now = 1_700_000_000_000;
    const rec = newTaskRecord({ type: 'echo', id: 'd1', delayMs: 90_000 }, undefined, now);
    expect(heldLine(rec, now)).toEqual(['runs at:', `${new Date(now + 90_000).toISOString()} (in 1m30s)`]);
    expect(heldLine({ ...rec, notBefore: now + 5000 }, now)).toEqual(['not before:', `${new Date(now + 5000).toISOString()} (in 5s)`]);
    expect(heldLine({ ...rec, state: 'succeeded', notBefore: undefined }, now)).toEqual(['delayed to:', new Date(now + 90_000).toISOString()]);
    expect(heldLine(newTaskRecord({ type: 'echo' }, undefined, now), now)).toBeUndefined();
    const line = eventLine({ kind: 'queued', id: 'd1', type: 'echo', state: 'queued', attempt: 0, worker: null, at: now, record: rec });
    expect(line).toBe(`${clock(now)} d1 echo queued, runs at ${clock(now + 90_000)}`);
  });
});

describe('a delayed task in a cluster', () => {
  it('delayMs 1.5 s: held until createdAt + 1.5 s (startedAt ≥ notBefore), then runs soon after', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }] });
    const { id, record } = await cluster.client.submit({ type: 'echo', payload: 'later', delayMs: 1500 });
    expect(record.runAt).toBe(record.createdAt + 1500);
    // Its queue entry's name holds the not-before: what the leader goes by.
    const shard = cluster.paths.shard(id);
    const { children: entries } = await cluster.admin.getChildren(cluster.paths.queueShard(shard));
    expect(entries.map((n) => Paths.parseQueueEntry(shard, n)).find((e) => e?.taskId === id)?.notBefore).toBe(record.createdAt + 1500);
    // A task submitted after it, at once, runs first.
    const { id: now } = await cluster.client.submit({ type: 'echo', payload: 'now' });
    const first = await cluster.client.wait(now, { timeoutMs: 5000 });
    expect(first.state).toBe('succeeded');
    const done = await cluster.client.wait(id, { timeoutMs: 8000 });
    expect(first.startedAt!).toBeLessThan(done.startedAt!);
    expect(done).toMatchObject({ state: 'succeeded', result: 'later', attempt: 1 });
    const late = done.startedAt! - done.runAt!;
    console.log(`[measure] delayed task started ${late} ms after its runAt (delay 1500 ms)`);
    expect(done.startedAt!).toBeGreaterThanOrEqual(record.createdAt + 1500);
    expect(late).toBeLessThan(2000);

    // The same from a --file line: delayMs, and runAt as ISO text.
    const file = join(tempDir('delayed'), 'tasks.jsonl');
    const tomorrow = new Date(Math.ceil(Date.now() / 1000) * 1000 + 86_400_000);
    writeFileSync(file, `{"type":"echo","id":"f1","delayMs":60000}\n{"type":"echo","id":"f2","runAt":"${tomorrow.toISOString()}"}\n`);
    const sub = await procs.run(['submit', '--file', file, '--zk', zkConnect(), '--root', cluster.paths.root]);
    expect(sub.code, sub.stderr).toBe(EXIT.ok);
    const [f1, f2] = [(await cluster.client.get('f1'))!, (await cluster.client.get('f2'))!];
    expect(f1).toMatchObject({ state: 'queued', runAt: f1.createdAt + 60_000, notBefore: f1.createdAt + 60_000 });
    expect(f2).toMatchObject({ state: 'queued', runAt: tomorrow.getTime(), notBefore: tomorrow.getTime() });
  });

  it('the leader killed -9 during the delay: the new leader starts it at its time, not before, exactly once; the CLI shows "runs at"', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const masters = ['m1', 'm2'].map((id) => procs.spawn(id, ['master', '--id', id, ...g]));
    const leader = await waitFor(async () => readLeader(s, paths.election), { message: 'a leader' });
    const victim = masters.find((m) => m.pid === leader.pid)!;
    await victim.waitForLine((l) => l.msg === 'elected leader');
    const survivor = masters.find((m) => m !== victim)!;
    await survivor.waitForLine((l) => l.msg === 'master following');

    // A worker in this process: it counts the handler's runs.
    const runs: number[] = [];
    const worker = new Worker({
      session: await pool.open(),
      root: paths.root,
      id: 'dw1',
      sessionTimeoutMs: TEST_SESSION_MS,
      gracePeriodMs: 1000,
      log: testLog,
      handlers: { once: () => runs.push(Date.now()) },
    });
    stops.push(() => worker.stop());
    await worker.start();

    // Longer than a takeover (≤ session timeout + 1 s): the new leader must hold it back itself.
    const delay = TEST_SESSION_MS + 3500;
    const sub = await procs.run(['submit', 'once', '--delay', `${delay}ms`, '--json', ...g]);
    expect(sub.code, sub.stderr).toBe(EXIT.ok);
    const { id } = JSON.parse(sub.stdout) as { id: string };
    const killedAt = Date.now();
    victim.kill9();

    const client = await DroverClient.connect({ session: s, root: paths.root });
    const queued = (await client.get(id))!;
    expect(queued.state).toBe('queued');
    const runAt = queued.runAt!;
    expect(runAt).toBe(queued.createdAt + delay);
    const shown = await procs.run(['get', id, ...g]);
    expect(shown.stdout).toContain(`runs at:   ${new Date(runAt).toISOString()} (in `);

    const takeover = await survivor.waitForLine((l) => l.msg === 'elected leader' && l.time >= killedAt, TEST_SESSION_MS + 5000);
    const done = await client.wait(id, { timeoutMs: delay + 8000 });
    expect(done).toMatchObject({ state: 'succeeded', attempt: 1, lost: 0 });
    expect(done.history).toHaveLength(1);
    expect(runs).toHaveLength(1);
    expect(done.startedAt!).toBeGreaterThanOrEqual(runAt);
    expect(runs[0]!).toBeGreaterThanOrEqual(runAt);
    expect(takeover.time).toBeLessThan(runAt); // it was the new leader's timer that let it go
    console.log(`[measure] across a kill -9: taken over ${takeover.time - killedAt} ms after the kill, started ${done.startedAt! - runAt} ms after runAt`);
    expect(done.startedAt! - runAt).toBeLessThan(2000);
    expect((await procs.run(['get', id, ...g])).stdout).toContain(`delayed to: ${new Date(runAt).toISOString()}`);
  });
});

describe('the CLI refuses a bad delay in one line', () => {
  const g = ['--zk', zkConnect(), '--root', '/drover-delayed-usage'];
  it('--run-at in the past, not ISO with a zone, both options, a delay over 365 days: usage errors', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['echo', '--run-at', '2020-01-01T00:00:00Z'], /--run-at: "2020-01-01T00:00:00Z" is in the past/],
      [['echo', '--run-at', 'tomorrow'], /--run-at: "tomorrow" is not an ISO 8601 date-time with a zone/],
      [['echo', '--run-at', '2099-01-01T00:00:00'], /not an ISO 8601 date-time with a zone/],
      [['echo', '--delay', '5s', '--run-at', new Date(Date.now() + 3_600_000).toISOString()], /give --delay or --run-at, not both/],
      [['echo', '--run-at', '2099-01-01T00:00:00Z'], /--run-at: "2099-01-01T00:00:00Z" is more than 365 days ahead/],
      [['echo', '--delay', '366d'], /--delay must be an integer in 0\.\.31536000000/],
      [['echo', '--delay', 'soon'], /--delay: "soon" is not a duration/],
      [['--delay', '1s', '--file', 'x.jsonl'], /with --file, give each line a delayMs or runAt/],
    ];
    const results = await Promise.all(cases.map(([args]) => procs.run(['submit', ...args, ...g])));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(EXIT.usage);
      expect(r.stderr).toMatch(cases[i]![1]);
      oneLine(r.stderr);
    });
  });

  it('a --file line: runAt in the past refused naming the line, as both delayMs and runAt', async () => {
    const dir = tempDir('delayed');
    const file = join(dir, 'tasks.jsonl');
    writeFileSync(file, '{"type":"echo","delayMs":60000}\n{"type":"echo","runAt":"2001-01-01T00:00:00Z"}\n');
    const r = await procs.run(['submit', '--file', file, ...g]);
    expect(r.code).toBe(EXIT.error);
    expect(r.stderr).toMatch(/line 2: runAt "2001-01-01T00:00:00Z" is in the past/);
    oneLine(r.stderr);
    writeFileSync(file, `{"type":"echo","delayMs":60000,"runAt":"${new Date(Date.now() + 86_400_000).toISOString()}"}\n`);
    const both = await procs.run(['submit', '--file', file, ...g]);
    expect(both.stderr).toMatch(/line 1: give delayMs or runAt, not both/);
    oneLine(both.stderr);
  });
});
