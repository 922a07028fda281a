// Schedules across a leader kill -9 (real processes: 2 masters, 1 worker with the recording
// handlers). Two per-second schedules run through the failover: with `catch-up` every
// occurrence of the window [added, end] exists once and ran once (contiguous seconds, one
// execution each); with `skip` the ones missed while no leader could act are absent, and
// exactly those are counted in `skipped`.
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { occurrenceId } from '../shared/protocol/schedule.js';
import { readLeader } from '../shared/zk/election.js';
import { newExecLog, readExecLog, RECORDING_HANDLERS } from './harness/exec-log.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
const procs = new ProcessPool();
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

/** The scheduled times of a per-second schedule in (from, to]. */
const seconds = (from: number, to: number): number[] => {
  const out: number[] = [];
  for (let t = Math.floor(from / 1000) * 1000 + 1000; t <= to; t += 1000) out.push(t);
  return out;
};

describe('schedules across a leader kill -9', () => {
  it('catch-up: every occurrence of the window exactly once; skip: the missed ones absent and counted', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const log = newExecLog();
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const masters = ['m1', 'm2'].map((id) => procs.spawn(id, ['master', '--id', id, ...g]));
    const leaderInfo = await waitFor(async () => readLeader(s, paths.election), { message: 'a leader' });
    const victim = masters.find((m) => m.pid === leaderInfo.pid)!;
    const survivor = masters.find((m) => m !== victim)!;
    await survivor.waitForLine((l) => l.msg === 'master following');
    const worker = procs.spawn('w1', ['worker', '--id', 'w1', '--concurrency', '8', '--handlers', RECORDING_HANDLERS, ...g], { DROVER_EXEC_LOG: log });
    await worker.waitForLine((l) => l.msg === 'worker alive');
    const client = await DroverClient.connect({ session: s, root: paths.root });
    const spec = { cron: '* * * * * *', type: 'work', payload: { ms: 5 } };
    const cu = await client.schedules.add('cu', { ...spec, misfire: { policy: 'catch-up', max: 10 } });
    const sk = await client.schedules.add('sk', { ...spec, misfire: 'skip' });

    // Two occurrences under the first leader, then the kill.
    await waitFor(async () => ((await client.schedules.get('sk'))!.cursor >= sk.createdAt + 2000 ? true : null), { timeoutMs: 6000, message: 'two occurrences' });
    const killedAt = Date.now();
    victim.kill9();
    await survivor.waitForLine((l) => l.msg === 'elected leader' && l.time >= killedAt, TEST_SESSION_MS + 8000);
    // Two more under the new leader, then both paused: the window ends at each one's cursor.
    const resumedAt = Date.now();
    await waitFor(async () => ((await client.schedules.get('cu'))!.cursor >= resumedAt + 2000 ? true : null), { timeoutMs: 6000, message: 'occurrences after the takeover' });
    const endCu = await client.schedules.pause('cu');
    const endSk = await client.schedules.pause('sk');

    // catch-up: contiguous, all present, none skipped, each executed once.
    const cuTimes = seconds(cu.createdAt, endCu.cursor);
    expect(cuTimes.length).toBeGreaterThanOrEqual(5);
    const cuRecs = await client.waitMany(cuTimes.map((t) => occurrenceId('cu', t)), { timeoutMs: 10_000 });
    expect(cuRecs.map((r) => r.state)).toEqual(cuTimes.map(() => 'succeeded'));
    expect(endCu.skipped).toBe(0);

    // skip: the present ones and the skipped count make up the window; some were skipped (the
    // failover took longer than the grace), and they are a run of seconds inside it.
    const skTimes = seconds(sk.createdAt, endSk.cursor);
    const skRecs = await Promise.all(skTimes.map((t) => client.get(occurrenceId('sk', t))));
    const absent = skTimes.filter((_, i) => skRecs[i] === null);
    expect(endSk.skipped).toBeGreaterThanOrEqual(1);
    expect(absent.length).toBe(endSk.skipped);
    expect(absent.at(-1)! - absent[0]!).toBe((absent.length - 1) * 1000);
    expect(absent[0]!).toBeGreaterThan(killedAt - 1000);
    const present = skTimes.filter((_, i) => skRecs[i] !== null).map((t) => occurrenceId('sk', t));
    await client.waitMany(present, { timeoutMs: 10_000 });

    // One execution per occurrence (one record per id by construction; the worker ran each once).
    const starts = new Map<string, number>();
    for (const e of readExecLog(log)) if (e.event === 'start') starts.set(e.taskId, (starts.get(e.taskId) ?? 0) + 1);
    const ran = [...cuTimes.map((t) => occurrenceId('cu', t)), ...present];
    expect(ran.filter((id) => starts.get(id) !== 1)).toEqual([]);
    expect([...starts.keys()].filter((id) => !ran.includes(id))).toEqual([]);
    await client.close();
  });
});
