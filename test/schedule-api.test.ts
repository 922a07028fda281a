// Schedules without failover: the misfire plan (pure, bounded however old the cursor), the
// library's add/get/list/pause/resume/remove with their checks, an in-process leader firing
// a per-second schedule (contiguous occurrence ids, nothing while paused), and the CLI (a bad
// cron expression or zone: one line, exit 2, before connecting).
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { EXIT } from '../cli/exit-codes.js';
import { Master } from '../master/master.js';
import { cronOf, encodeTombstone, localZone, MAX_CRON_CHARS, newSchedule, occurrenceId, ScheduleValidationError, TOMBSTONE_TTL_MS, type Schedule } from '../shared/protocol/schedule.js';
import { ENUM_CAP, MISFIRE_GRACE_MS, planOccurrences, resumedAt } from '../shared/protocol/schedule-plan.js';
import { readSchedules } from '../shared/protocol/schedule-reads.js';
import { HARD_SIZE_CAP } from '../shared/protocol/task-record.js';
import { BadVersionError } from '../shared/zk/errors.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
const procs = new ProcessPool();
const masters: Master[] = [];
afterAll(async () => {
  await Promise.all(masters.map((m) => m.stop()));
  await procs.killAll();
  await pool.closeAll();
});

const T0 = Date.UTC(2030, 0, 1); // a whole second
const sched = (over: Partial<Schedule> = {}): Schedule => ({ ...newSchedule('s', { cron: '* * * * * *', type: 'echo' }, T0), ...over });

describe('the misfire plan', () => {
  it('on time: the due occurrence fires, nothing skipped', () => {
    const p = planOccurrences(sched({ cursor: T0 }), T0 + 1200);
    expect(p).toEqual({ skipped: 0, skipCursor: null, fire: [T0 + 1000], next: T0 + 2000 });
  });

  it('catch-up: the most recent max missed, oldest first, then the due ones; older ones counted', () => {
    const s = sched({ cursor: T0, misfire: { policy: 'catch-up', max: 3 } });
    const now = T0 + 10_500; // missed: T0+1s .. T0+9s (≤ now − 1 s); due: T0+10s
    const p = planOccurrences(s, now);
    expect(p.fire).toEqual([T0 + 7000, T0 + 8000, T0 + 9000, T0 + 10_000]);
    expect(p.skipped).toBe(6);
    expect(p.next).toBe(T0 + 11_000);
  });

  it('skip: none of the missed, all counted, cursor to the last missed; due ones still fire', () => {
    const s = sched({ cursor: T0, misfire: { policy: 'skip', max: 10 } });
    expect(planOccurrences(s, T0 + 10_500)).toMatchObject({ skipped: 9, fire: [T0 + 10_000] });
    // Between occurrences: nothing due, the skip alone moves the cursor.
    const five = sched({ cron: '*/5 * * * * *', cursor: T0, misfire: { policy: 'skip', max: 10 } });
    expect(planOccurrences(five, T0 + 5000 + MISFIRE_GRACE_MS + 500)).toEqual({ skipped: 1, skipCursor: T0 + 5000, fire: [], next: T0 + 10_000 });
  });

  it('a cursor a year old on a per-second cron: bounded work, an exact count, at most max fired', () => {
    const year = 365 * 86_400_000;
    const s = sched({ cursor: T0 - year, misfire: { policy: 'catch-up', max: 5 } });
    const started = performance.now();
    const p = planOccurrences(s, T0 + 500);
    expect(performance.now() - started).toBeLessThan(500);
    // Missed: T0−year+1s .. T0−1s (year/1000 − 1 of them), the last 5 caught up; T0 is due.
    expect(p.fire).toEqual([T0 - 5000, T0 - 4000, T0 - 3000, T0 - 2000, T0 - 1000, T0]);
    expect(p.skipped).toBe(year / 1000 - 1 - 5);
    expect(ENUM_CAP).toBeLessThan(year / 1000);
    const r = resumedAt({ ...s, paused: true }, T0);
    expect(r).toEqual({ cursor: T0, skipped: year / 1000 });
  });

  it('catch-up max 1000, 300 s missed: the 299 missed and the due one, nothing at or before the cursor', () => {
    const s = sched({ cursor: T0, misfire: { policy: 'catch-up', max: 1000 } });
    const p = planOccurrences(s, T0 + 300_500); // missed: T0+1s .. T0+299s; due: T0+300s
    expect(p.fire).toHaveLength(300);
    expect(p.fire[0]).toBe(T0 + 1000);
    expect(p.fire.at(-1)).toBe(T0 + 300_000);
    expect(p.skipped).toBe(0);
    // Past ENUM_CAP but under keep: still never before the cursor (the cursor must not move back).
    const q = planOccurrences(sched({ cursor: T0 + 123, misfire: { policy: 'catch-up', max: 1000 } }), T0 + 150_500);
    expect(q.fire.filter((t) => t <= T0 + 123)).toEqual([]);
    expect([q.fire.length, q.skipped]).toEqual([150, 0]);
  });

  it('a busy pass: an occurrence due when the pass began is late, not missed (judged from passStart)', () => {
    // Reached 3 s into a pass that began at T0+1.5 s: T0+1s was on time then, so it fires.
    const s = sched({ cursor: T0 });
    expect(planOccurrences(s, T0 + 3000, cronOf(s.cron), T0 + 1500)).toEqual({ skipped: 0, skipCursor: null, fire: [T0 + 1000, T0 + 2000, T0 + 3000], next: T0 + 4000 });
  });

  it('a cursor a year back off the second (ms offset): the count is still exact', () => {
    const year = 365 * 86_400_000;
    const s = sched({ cursor: T0 - year + 123, misfire: { policy: 'catch-up', max: 5 } });
    const p = planOccurrences(s, T0 + 500);
    expect(p.skipped).toBe(year / 1000 - 1 - 5);
    expect(resumedAt({ ...s, paused: true }, T0).skipped).toBe(year / 1000);
  });

  it('a cron that never fires, one too long, a bad max: refused; the zone defaults to the adder\'s, stored', () => {
    expect(() => cronOf('0 0 30 2 *')).toThrow(/never fires/);
    expect(() => cronOf(`0 0 * * ${'1,'.repeat(200)}1`)).toThrow(new RegExp(`at most ${MAX_CRON_CHARS} characters`));
    expect(() => newSchedule('a', { cron: '* * * * *', type: 'echo', misfire: { policy: 'catch-up', max: Number('abc') } })).toThrow(/got NaN/);
    const big = { maxPayloadBytes: HARD_SIZE_CAP, maxResultBytes: HARD_SIZE_CAP }; // the schedule's own bound, not the client's
    expect(() => newSchedule('a', { cron: '* * * * *', type: 'echo', payload: 'x'.repeat(70_000) }, T0, big)).toThrow(/payload is \d+ bytes/);
    const a = newSchedule('a', { cron: '* * * * *', type: 'echo' });
    expect(a.tz).toBe(localZone());
    expect(a.incarnation).not.toBe(newSchedule('a', { cron: '* * * * *', type: 'echo' }).incarnation);
  });

  it('paused: nothing; checks name the problem', () => {
    expect(planOccurrences(sched({ paused: true }), T0 + 60_000)).toEqual({ skipped: 0, skipCursor: null, fire: [], next: null });
    expect(() => cronOf('61 * * * *')).toThrow(/invalid cron expression "61 \* \* \* \*"/);
    expect(() => cronOf('* * * * *', 'Mars/Base')).toThrow(/unknown time zone "Mars\/Base"/);
    expect(() => newSchedule('a/b', { cron: '* * * * *', type: 'echo' })).toThrow(/invalid schedule name/);
    expect(() => newSchedule('a', { cron: '* * * * *', type: 'echo', misfire: { policy: 'catch-up', max: 0 } })).toThrow(/1\.\.1000/);
    expect(() => newSchedule('a', { cron: '* * * * *', type: 'bad type' })).toThrow(/type must be/);
    expect(occurrenceId('nightly', T0)).toBe(`sched.nightly.${T0}`);
  });
});

describe('schedules on a cluster', () => {
  it('library: add (refused twice unless replace), get, list, pause/resume (skipped counted), remove', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const a = await client.schedules.add('nightly', { cron: '0 3 * * *', tz: 'Europe/Berlin', type: 'echo', payload: { x: 1 }, misfire: 'catch-up' });
    expect(a).toMatchObject({ name: 'nightly', misfire: { policy: 'catch-up', max: 10 }, paused: false, skipped: 0 });
    expect(new Date(a.next!).toLocaleString('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' })).toBe('03:00');
    await expect(client.schedules.add('nightly', { cron: '* * * * *', type: 'echo' })).rejects.toThrow(/exists already/);
    await expect(client.schedules.add('bad', { cron: '* * *', type: 'echo' })).rejects.toBeInstanceOf(ScheduleValidationError);
    const r = await client.schedules.add('nightly', { cron: '* * * * * *', type: 'echo' }, { replace: true });
    expect(r.cron).toBe('* * * * * *');
    await client.schedules.add('b', { cron: '* * * * *', type: 'echo', paused: true });
    // A foreign node over a schedule's size under a valid name: unusable, never parsed, left out.
    await s.create(`${paths.schedules}/huge`, Buffer.alloc(200_000, 0x7b));
    const huge = (await readSchedules(s, paths, ['huge'])).get('huge');
    expect(huge !== null && huge !== undefined && 'error' in huge ? huge.error : huge).toMatch(/200000 bytes, over the \d+-byte limit/);
    const list = await client.schedules.list();
    expect(list.map((x) => [x.name, x.paused, x.next === null])).toEqual([
      ['b', true, true],
      ['nightly', false, false],
    ]);
    const paused = await client.schedules.pause('nightly');
    expect(paused.paused).toBe(true);
    // No leader here: the cursor stays; a resume after a second skips what the pause spanned.
    await waitFor(() => Date.now() >= r.cursor + 1100, { timeoutMs: 3000, message: 'a second paused' });
    const resumed = await client.schedules.resume('nightly');
    expect(resumed.paused).toBe(false);
    expect(resumed.cursor).toBeGreaterThan(paused.cursor);
    expect(resumed.skipped).toBeGreaterThanOrEqual(1);
    expect(await client.schedules.remove('nightly')).toBe(true);
    expect(await client.schedules.remove('nightly')).toBe(false);
    expect(await client.schedules.get('nightly')).toBeNull();
    await expect(client.schedules.pause('nightly')).rejects.toThrow('no schedule nightly');
    // The remove left a tombstone; an add writes over it, so the node's version never starts at 0
    // again: a leader's write at the old schedule's version cannot land on the new one (ABA).
    const path = `${paths.schedules}/nightly`;
    expect(await s.exists(path)).not.toBeNull();
    expect((await client.schedules.list()).map((x) => x.name)).toEqual(['b']);
    await client.schedules.add('nightly', { cron: '* * * * *', type: 'other' });
    expect((await s.exists(path))!.version).toBeGreaterThan(0);
    await expect(s.setData(path, Buffer.from('{}'), 0)).rejects.toThrow(BadVersionError);
    expect((await client.schedules.get('nightly'))!.type).toBe('other');
    await client.close();
  });

  it('an in-process leader fires a per-second schedule once a second, contiguous ids; paused, nothing more', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const m = new Master({ session: await pool.open(), root: paths.root, id: 'm1', sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    masters.push(m);
    await m.start();
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const added = await client.schedules.add('tick', { cron: '* * * * * *', type: 'echo' });
    const firstDone = await waitFor(async () => {
      const x = await client.schedules.get('tick');
      return x && x.cursor > added.createdAt ? x : null;
    }, { timeoutMs: 5000, message: 'a first occurrence' });
    // A node no drover made (zkCli create /root/schedules/daily:report) stops nothing.
    await s.create(`${paths.schedules}/daily:report`);
    // Tombstones: one older than TOMBSTONE_TTL_MS (a remove long ago) is deleted by the leader;
    // a fresh one (just removed) stays until it is as old.
    const oldStone = `${paths.schedules}/old-removed`;
    await s.create(oldStone, encodeTombstone('old-removed', Date.now() - TOMBSTONE_TTL_MS - 1000));
    await client.schedules.add('fresh-removed', { cron: '0 0 * * *', type: 'echo' });
    await client.schedules.remove('fresh-removed');
    const at = await waitFor(async () => {
      const x = await client.schedules.get('tick');
      return x && x.cursor >= firstDone.cursor + 2000 ? x : null;
    }, { timeoutMs: 8000, message: 'two occurrences after the foreign node' });
    const paused = await client.schedules.pause('tick');
    const first = Math.ceil((added.createdAt + 1) / 1000) * 1000;
    const ids: string[] = [];
    for (let t = first; t <= paused.cursor; t += 1000) ids.push(occurrenceId('tick', t));
    expect(ids.length).toBeGreaterThanOrEqual(2);
    const recs = await Promise.all(ids.map((id) => client.get(id)));
    expect(recs.map((r, i) => (r ? r.id : `missing ${ids[i]}`))).toEqual(ids);
    expect(at.skipped).toBe(0);
    // Nothing after the pause: the next second's task never appears.
    const after = occurrenceId('tick', paused.cursor + 1000);
    await waitFor(() => Date.now() > paused.cursor + 2200, { timeoutMs: 4000, message: 'the next second past' });
    expect(await client.get(after)).toBeNull();
    expect((await client.schedules.get('tick'))!.cursor).toBe(paused.cursor);
    await waitFor(async () => (await s.exists(oldStone)) === null, { timeoutMs: 5000, message: 'the old tombstone deleted' });
    expect(await s.exists(`${paths.schedules}/fresh-removed`)).not.toBeNull();
    await client.close();
  });

  it('CLI: add, list --json, pause, resume, remove; a bad cron or option is one line, exit 2; an unknown name exit 1', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root];
    const client = await DroverClient.connect({ session: s, root: paths.root });
    // One schedule per command, made beforehand, so the commands run at once (two rounds of spawns).
    await Promise.all([
      client.schedules.add('p', { cron: '0 * * * *', type: 'echo' }),
      client.schedules.add('r', { cron: '0 * * * *', type: 'echo', paused: true }),
      client.schedules.add('rm', { cron: '0 * * * *', type: 'echo' }),
    ]);
    const cli = (args: string[]) => procs.run(['schedule', ...args]);
    // The bad ones are refused before connecting (no ZooKeeper at :1).
    const bads = (
      [
        [['--cron', '* * 32 * *'], /invalid cron expression/],
        [['--cron', '* * * * *', '--catch-up-max', '3'], /--catch-up-max applies to --misfire catch-up only/],
      ] as const
    ).map(async ([bad, msg]) => ({ msg, r: await cli(['add', 'x', ...bad, '--type', 'echo', '--zk', '127.0.0.1:1']) }));
    const [add, pause, resume, remove, gone] = await Promise.all([
      cli(['add', 'hourly', '--cron', '0 * * * *', '--tz', 'UTC', '--type', 'echo', '--payload', '{"n":1}', '--misfire', 'catch-up', '--catch-up-max', '3', ...g]),
      cli(['pause', 'p', ...g]),
      cli(['resume', 'r', ...g]),
      cli(['remove', 'rm', ...g]),
      cli(['remove', 'nope', ...g]),
    ]);
    expect(add.code, add.stderr).toBe(EXIT.ok);
    expect(add.stdout).toMatch(/^schedule hourly added: 0 \* \* \* \* \(UTC\) → echo, next \d{4}-\d\d-\d\dT\d\d:00:00\.000Z\n$/);
    expect(pause.stdout).toBe('schedule p paused\n');
    expect(resume.stdout).toMatch(/^schedule r active, next /);
    expect(remove.stdout).toBe('schedule rm removed\n');
    expect([gone.code, gone.stderr]).toEqual([EXIT.error, 'drover: no schedule nope\n']);
    const list = await cli(['list', '--json', ...g]);
    const rows = JSON.parse(list.stdout) as Array<Schedule & { next: number }>;
    expect(rows.map((x) => [x.name, x.paused])).toEqual([
      ['hourly', false],
      ['p', true],
      ['r', false],
    ]);
    expect(rows[0]).toMatchObject({ name: 'hourly', tz: 'UTC', type: 'echo', payload: { n: 1 }, misfire: { policy: 'catch-up', max: 3 }, paused: false });
    for (const { msg, r } of await Promise.all(bads)) {
      expect(r.code).toBe(EXIT.usage);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
    }
    expect(await s.exists(`${paths.schedules}/x`)).toBeNull();
    await client.close();
  });
});
