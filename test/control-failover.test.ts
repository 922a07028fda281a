// Cluster control with real processes (2 masters, 2 workers): a pause and a drain hold across
// a leader kill -9; the drained worker finishes its running task, takes nothing new while the
// other one does, exits 0 and removes its drain request; status shows it draining meanwhile.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import type { ClusterStatus } from '../client/status.js';
import { EXIT } from '../cli/exit-codes.js';
import { Paths } from '../shared/protocol/paths.js';
import { readLeader } from '../shared/zk/election.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';

const HANDLERS = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'control-handlers.mjs');
const pool = new SessionPool();
const procs = new ProcessPool();
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

const workerOf = (member: string | null | undefined) => (member ? Paths.parseMember(member)?.workerId : undefined);

describe('control across a leader kill -9', () => {
  it('pause --type quick and drain of the busy worker hold across the kill; the drained worker finishes, exits 0, its request gone; resume runs the held task', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const masters = ['m1', 'm2'].map((id) => procs.spawn(id, ['master', '--id', id, ...g]));
    const leaderInfo = await waitFor(async () => readLeader(s, paths.election), { message: 'a leader' });
    const victim = masters.find((m) => m.pid === leaderInfo.pid)!;
    const survivor = masters.find((m) => m !== victim)!;
    await survivor.waitForLine((l) => l.msg === 'master following');
    const workers = new Map(['cw1', 'cw2'].map((id) => [id, procs.spawn(id, ['worker', '--id', id, '--concurrency', '2', '--handlers', HANDLERS, '--grace', '20000', ...g])]));
    for (const w of workers.values()) await w.waitForLine((l) => l.msg === 'worker alive');
    const client = await DroverClient.connect({ session: s, root: paths.root });

    // Paused: quick. A slow task starts somewhere: that worker (X) is the one drained.
    expect((await procs.run(['pause', '--type', 'quick', ...g])).code).toBe(EXIT.ok);
    const { id: held } = await client.submit({ type: 'quick', id: 'held' });
    const { id: slow } = await client.submit({ type: 'slow', payload: { ms: 7000 } });
    const running = await waitFor(async () => {
      const r = await client.get(slow);
      return r?.state === 'running' ? r : null;
    }, { message: 'the slow task running' });
    const x = workerOf(running.worker)!;
    const y = x === 'cw1' ? 'cw2' : 'cw1';
    const d = await procs.run(['drain', x, ...g]);
    expect(d.code, d.stderr).toBe(EXIT.ok);
    expect(d.stdout).toBe(`${x} asked to drain\n`);
    // status: X draining (asked, and its member state), quick paused.
    const st = await waitFor(async () => {
      const r = JSON.parse((await procs.run(['status', '--json', ...g])).stdout) as ClusterStatus;
      return r.draining.find((w) => w.workerId === x)?.members.some((m) => m.state === 'draining') ? r : null;
    }, { message: 'status shows X draining' });
    expect(st.draining.map((w) => w.workerId)).toEqual([x]);
    expect(st.draining[0]!.requestedAt).toBeGreaterThan(0);
    expect(st.paused.types.map((t) => t.type)).toEqual(['quick']);
    const text = await procs.run(['status', ...g]);
    expect(text.stdout).toMatch(new RegExp(`^  ${x}\\trequested \\S+Z\\t${x}~\\S+ draining$`, 'm'));

    // Leader kill -9 during the drain: the new leader reads both before its first round.
    const killedAt = Date.now();
    victim.kill9();
    await survivor.waitForLine((l) => l.msg === 'elected leader' && l.time >= killedAt, TEST_SESSION_MS + 8000);
    // New work: all of it on Y (X has a free slot, but is draining); the paused task stays.
    const after = await client.submitMany(Array.from({ length: 4 }, (_, i) => ({ type: 'slow', id: `after-${i}`, payload: { ms: 20 } })));
    const done = await client.waitMany(after.map((a) => a.id), { timeoutMs: 10_000 });
    expect(done.map((t) => workerOf(t.history?.at(-1)?.worker))).toEqual([y, y, y, y]);
    expect((await client.get(held))!.state).toBe('queued');

    // X finishes its running task, then leaves: exit 0, its drain request gone.
    const slowDone = await client.wait(slow, { timeoutMs: 15_000 });
    expect(slowDone).toMatchObject({ state: 'succeeded', attempt: 1 });
    expect(workerOf(slowDone.history?.at(-1)?.worker)).toBe(x);
    expect(await workers.get(x)!.waitExit(10_000)).toBe(0);
    expect(await s.exists(paths.drainRequest(x))).toBeNull();
    expect((await procs.run(['drain', x, ...g])).code).toBe(EXIT.notFound);

    // resume: the held task runs (on Y).
    expect((await procs.run(['resume', ...g])).code).toBe(EXIT.ok);
    const h = await client.wait(held, { timeoutMs: 10_000 });
    expect(h.state).toBe('succeeded');
    expect(workerOf(h.history?.at(-1)?.worker)).toBe(y);
    const last = JSON.parse((await procs.run(['status', '--json', ...g])).stdout) as ClusterStatus;
    expect(last.draining).toEqual([]);
    expect(last.paused).toEqual({ all: null, types: [] });
  });
});
