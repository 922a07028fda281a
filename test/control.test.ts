// Cluster control in one process (the leader, a worker) with the CLI for pause/resume/status:
// a paused type is assigned nothing while other types run, running tasks finish, pausing all
// holds everything, resume lets it go; status shows it (text and --json); a paused type costs
// the rounds nothing per queued task. Failover and drain with real processes: control-failover.test.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import type { ClusterStatus } from '../client/status.js';
import { EXIT } from '../cli/exit-codes.js';
import { decodePaused, encodePaused, MAX_PAUSED_TYPES, NOTHING_PAUSED, removeDrain, requestDrain, withPause, withResume, ControlError } from '../shared/protocol/control.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { ControlWatch } from '../master/control-watch.js';
import { WorkerRegistration } from '../worker/registration.js';
import { Worker } from '../worker/worker.js';
import { runLeadership, type LeaderRun } from './harness/leadership-run.js';
import { ProcessPool } from './harness/processes.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { waitFor } from './harness/wait-for.js';
import { tempDir } from './harness/temp.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
const procs = new ProcessPool();
let s: ZkSession;
let paths: Paths;
let leader: LeaderRun;
let worker: Worker;
let client: DroverClient;
let g: string[];
/** Release for the running `gate` task. */
let openGate!: () => void;
const gate = new Promise<void>((r) => (openGate = r));

beforeAll(async () => {
  s = await pool.open();
  paths = await freshLayout(s);
  g = ['--zk', zkConnect(), '--root', paths.root];
  leader = await runLeadership(await pool.open(), paths);
  worker = new Worker({
    session: await pool.open(),
    root: paths.root,
    id: 'cw1',
    concurrency: 4,
    sessionTimeoutMs: TEST_SESSION_MS,
    gracePeriodMs: 1000,
    log: testLog,
    handlers: { a: () => 'a', b: () => 'b', gated: () => gate.then(() => 'done') },
  });
  await worker.start();
  client = await DroverClient.connect({ session: s, root: paths.root });
});

afterAll(async () => {
  openGate();
  await worker?.stop().catch(() => undefined);
  await leader?.stop().catch(() => undefined);
  await procs.killAll();
  await pool.closeAll();
});

const oneLine = (stderr: string) => expect(stderr.trim().split('\n')).toHaveLength(1);
const rounds = () => leader.leadership.queueState().rounds.rounds;
let kicks = 0;
/**
 * A round that started after now has finished. A control write kicks a round (the leader's
 * control watch); rounds run one at a time, so the start of the second one means the first ended.
 * Leaves two kick types paused (resume() clears them).
 */
async function roundFinished(): Promise<void> {
  const from = rounds();
  kicks++;
  await client.pause({ type: `kick-${kicks}a` });
  await waitFor(() => rounds() > from, { message: 'a round after now' });
  const started = rounds();
  await client.pause({ type: `kick-${kicks}b` });
  await waitFor(() => rounds() > started, { message: 'the next round' });
}
/** Some rounds have run since now (each kicked by the tasks and events it waits on). */
async function roundsPass(n = 2): Promise<void> {
  const from = rounds();
  const { id } = await client.submit({ type: 'b' }); // a task that runs: it makes rounds happen
  await waitFor(() => rounds() >= from + n, { message: `${n} rounds` });
  await client.wait(id, { timeoutMs: 5000 }).catch(() => undefined);
}

describe('the rules of control/paused', () => {
  it('pause and resume are idempotent, resume without a type clears everything, resume --type under pause-all is refused; the data round-trips', () => {
    const p1 = withPause(NOTHING_PAUSED, 'x/y', 10);
    expect(withPause(p1, 'x/y', 20)).toBe(p1);
    const p2 = withPause(p1, undefined, 30);
    expect(p2).toEqual({ all: { since: 30 }, types: [{ type: 'x/y', since: 10 }] });
    expect(decodePaused(encodePaused(p2))).toEqual(p2);
    expect(() => withResume(p2, 'x/y')).toThrow(ControlError);
    expect(withResume(p2, undefined)).toEqual(NOTHING_PAUSED);
    expect(withResume(p1, 'x/y')).toEqual(NOTHING_PAUSED);
    expect(decodePaused(Buffer.from('not json'))).toEqual(NOTHING_PAUSED);
    expect(() => withPause(NOTHING_PAUSED, 'bad type!', 1)).toThrow(ControlError);
    let many = NOTHING_PAUSED;
    for (let i = 0; i < MAX_PAUSED_TYPES; i++) many = withPause(many, `t${i}`, i);
    expect(encodePaused(many).length).toBeLessThan(64 * 1024);
    expect(() => withPause(many, 'one-more', 0)).toThrow(/1000 types are paused/);
  });

  it('two pauses at once both land (versioned setData, again on a race)', async () => {
    const other = await DroverClient.connect({ session: await pool.open(), root: paths.root });
    await Promise.all([client.pause({ type: 'race1' }), other.pause({ type: 'race2' }), client.pause({ type: 'race3' })]);
    expect((await client.control()).paused.types.map((t) => t.type).sort()).toEqual(['race1', 'race2', 'race3']);
    await client.resume();
    expect((await client.control()).paused).toEqual(NOTHING_PAUSED);
  });

  it("the leader's control watch stopped while its addWatch is in flight leaves no tree watch behind", async () => {
    const s2 = await pool.open();
    const cw = new ControlWatch(s2, paths, testLog, () => undefined);
    const started = cw.start();
    await cw.stop();
    await started;
    const roots = (s2 as unknown as { trees: { roots: Map<string, unknown> } }).trees.roots;
    expect([...roots.keys()]).not.toContain(paths.control);
  });
});

describe('pause and resume on a running cluster', () => {
  it('pause --type a: nothing of a assigned while b runs; a running a task finishes; status shows it; then pause all holds b too; resume lets all run', async () => {
    // A task of type gated... runs before the pause; it is type "gated", paused below with a.
    const { id: running } = await client.submit({ type: 'gated' });
    await waitFor(async () => (await client.get(running))?.state === 'running', { message: 'gated running' });

    for (const type of ['a', 'gated']) {
      const r = await procs.run(['pause', '--type', type, ...g]);
      expect(r.code, r.stderr).toBe(EXIT.ok);
    }
    expect((await procs.run(['pause', '--type', 'a', '--json', ...g])).stdout).toMatch(/"type":"a"/); // twice: once
    await waitFor(() => leader.leadership.queueState() && (leader.leadership as unknown as { control: { paused: { types: unknown[] } } }).control.paused.types.length === 2, {
      message: 'the leader has the pause',
    });
    // 200 queued tasks of a paused type, and a b after them: b runs, none of a does.
    const held = await client.submitMany(Array.from({ length: 200 }, (_, i) => ({ type: 'a', id: `held-${i}` })));
    const { id: b1 } = await client.submit({ type: 'b' });
    expect((await client.wait(b1, { timeoutMs: 5000 })).state).toBe('succeeded');
    // The running task of a paused type finishes.
    const gated2 = await client.submit({ type: 'gated' });
    openGate();
    expect((await client.wait(running, { timeoutMs: 5000 })).state).toBe('succeeded');

    // Cost: once read (classified), paused entries are not handed to rounds again.
    await roundsPass();
    const taken0 = leader.leadership.queueState().stats.taken;
    const rounds0 = rounds();
    for (let i = 0; i < 6; i++) await roundsPass(1);
    const taken = leader.leadership.queueState().stats.taken - taken0;
    console.log(`[measure] with 201 paused tasks queued: ${rounds() - rounds0} rounds took ${taken} queue entries (6 b tasks ran)`);
    expect(taken).toBeLessThanOrEqual(6);
    for (const h of held.slice(0, 5)) expect((await client.get(h.id))!.state).toBe('queued');
    expect((await client.get(gated2.id))!.state).toBe('queued');

    // status, text and JSON: paused since when, and the paused classes waiting for `paused`.
    const json = await waitFor(async () => {
      const r = await procs.run(['status', '--json', ...g]);
      const st = JSON.parse(r.stdout) as ClusterStatus;
      return st.waiting.some((w) => w.type === 'a' && w.reason === 'paused' && w.count === 200) ? st : null;
    }, { message: 'status --json with a waiting for paused' });
    expect(json.paused.all).toBeNull();
    expect(json.paused.types.map((t) => t.type)).toEqual(['a', 'gated']);
    const text = await procs.run(['status', ...g]);
    expect(text.stdout).toMatch(/^paused: {6}a \(since \d{4}-\d\d-\d\dT.*Z\), gated \(since .*\)$/m);
    expect(text.stdout).toMatch(/^ {2}a\tlabels -\t200\tpaused$/m);
    expect(text.stderr).not.toMatch(/no live worker can take/); // paused is no warning

    // Pause all: b waits too; resume --type under pause-all is refused, in one line.
    expect((await procs.run(['pause', ...g])).stdout).toBe('paused: all types, a, gated\n');
    await waitFor(() => (leader.leadership as unknown as { control: { paused: { all: unknown } } }).control.paused.all, { message: 'the leader has pause-all' });
    const { id: b2 } = await client.submit({ type: 'b' });
    // b2 indexed, then a round that started after that has finished: it placed nothing.
    await waitFor(() => leader.leadership.queueState().size >= 202, { message: 'b2 indexed' });
    const { id: b3 } = await client.submit({ type: 'b' });
    await roundFinished();
    expect((await client.get(b2))!.state).toBe('queued');
    const refused = await procs.run(['resume', '--type', 'a', ...g]);
    expect(refused.code).toBe(EXIT.error);
    expect(refused.stderr).toMatch(/all task types are paused/);
    oneLine(refused.stderr);
    expect((await procs.run(['status', '--json', ...g])).stdout).toMatch(/"all":\{"since":\d+\}/);

    // resume: everything.
    const r = await procs.run(['resume', ...g]);
    expect(r.stdout).toBe('nothing paused\n');
    expect((await client.wait(b2, { timeoutMs: 5000 })).state).toBe('succeeded');
    expect((await client.wait(b3, { timeoutMs: 5000 })).state).toBe('succeeded');
    const all = await client.waitMany(held.map((h) => h.id), { timeoutMs: 15_000 });
    expect(all.every((t) => t.state === 'succeeded')).toBe(true);
    expect((await client.wait(gated2.id, { timeoutMs: 5000 })).state).toBe('succeeded');
    expect((await procs.run(['status', ...g])).stdout).not.toMatch(/^paused:/m);
  });

  it('drain of an id with no live worker: exit 4, one line; --cancel without a request: exit 4', async () => {
    const r = await procs.run(['drain', 'nobody', ...g]);
    expect(r.code).toBe(EXIT.notFound);
    expect(r.stderr).toBe('drover: no live worker nobody\n');
    const c = await procs.run(['drain', '--cancel', 'nobody', ...g]);
    expect(c.code).toBe(EXIT.notFound);
    oneLine(c.stderr);
    // --cancel only from the command line: DROVER_DRAIN_CANCEL leaves a drain a drain, a file's key is refused.
    const e = await procs.run(['drain', 'nobody', ...g], 20_000, { DROVER_DRAIN_CANCEL: 'true' });
    expect([e.code, e.stderr]).toEqual([EXIT.notFound, 'drover: no live worker nobody\n']);
    const file = join(tempDir('drain-cancel-'), 'drover.json');
    writeFileSync(file, JSON.stringify({ drain: { cancel: true } }));
    const f = await procs.run(['drain', 'nobody', '--config', file, ...g]);
    expect(f.code).toBe(EXIT.usage);
    expect(f.stderr).toMatch(/unknown key "drain\.cancel"/);
  });

  it('drain --wait returns once the worker has left; a worker that finds a request at start drains at once and removes it; --cancel takes one back', async () => {
    const start = async (id: string) => {
      const w = new Worker({ session: await pool.open(), root: paths.root, id, sessionTimeoutMs: TEST_SESSION_MS, gracePeriodMs: 1000, log: testLog, handlers: { b: () => 'b' } });
      await w.start();
      return w;
    };
    await start('cw4');
    const r = await procs.run(['drain', 'cw4', '--wait', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toBe('cw4 asked to drain\ncw4 has left\n');
    expect(await s.exists(paths.drainRequest('cw4'))).toBeNull();

    // Asked while it was away (a crash after the request, say): it leaves as soon as it is up.
    expect(await requestDrain(s, paths, 'cw5')).toBe(true);
    const w5 = await start('cw5');
    await w5.whenStopped;
    expect(await s.exists(paths.drainRequest('cw5'))).toBeNull();
    // And a later start of the same id runs normally.
    const again = await start('cw5');
    expect(again.state).toBe('running');
    await again.stop();

    // A request no live worker holds (its worker killed -9 after it was asked): pending, and --cancel is the way out.
    expect(await requestDrain(s, paths, 'cw6')).toBe(true);
    expect((await procs.run(['status', ...g])).stdout).toMatch(/^ {2}cw6\trequested \d{4}-.*Z\tpending \(no live worker; .*drover drain --cancel cw6/m);
    const c = await procs.run(['drain', '--cancel', 'cw6', ...g]);
    expect(c.code, c.stderr).toBe(EXIT.ok);
    expect(c.stdout).toBe('drain of cw6 cancelled\n');
    expect(await s.exists(paths.drainRequest('cw6'))).toBeNull();
  });

  it('drain --wait with ZooKeeper gone (TCP cut): exit 3 within about --connect-timeout, one line; it waits for the members asked, not the id', async () => {
    let release!: () => void;
    const held = new Promise<string>((r) => (release = () => r('held')));
    const w7 = new Worker({ session: await pool.open(), root: paths.root, id: 'cw7', sessionTimeoutMs: TEST_SESSION_MS, gracePeriodMs: 60_000, log: testLog, handlers: { hold7: () => held } });
    await w7.start();
    const { id } = await client.submit({ type: 'hold7' });
    await waitFor(async () => (await client.get(id))?.state === 'running', { message: 'hold7 running' });
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      const p = procs.spawn('drain-cut', ['drain', 'cw7', '--wait', '--zk', proxy.connectString, '--root', paths.root, '--connect-timeout', '1000', '--session-timeout', String(TEST_SESSION_MS)]);
      await waitFor(() => p.text.includes('cw7 asked to drain'), { message: 'drain asked' });
      await waitFor(() => w7.state === 'draining', { message: 'cw7 draining (its task held)' });
      const t0 = Date.now();
      proxy.cut('close');
      expect(await p.waitExit()).toBe(EXIT.unavailable);
      expect(Date.now() - t0).toBeLessThan(1000 + 3000);
      expect(p.text.slice(1)).toHaveLength(1);
      expect(p.text[1]).toMatch(/^drover: ZooKeeper unavailable: not connected to ZooKeeper within 1000 ms/);
    } finally {
      await proxy.stop();
    }
    // Members, not the id: a member name not alive is gone at once while cw7 lives on.
    await client.waitWorkerGone('cw7', { members: ['cw7~not-this-one'] });
    // --cancel once it saw the request: its stop cannot be undone; exit 1, one line.
    const c = await procs.run(['drain', '--cancel', 'cw7', ...g]);
    expect(c.code).toBe(EXIT.error);
    expect(c.stderr).toBe('drover: cw7 is already draining; it will leave\n');
    release();
    await w7.whenStopped;
    expect((await client.wait(id, { timeoutMs: 5000 })).state).toBe('succeeded');
  });

  it("the leader's own check: a member asked to drain whose state still says alive (no drain watch of its own) is given nothing; once the request goes, it is", async () => {
    // A bare member (no Worker: nothing of it watches control/drain), alive, taking type z9.
    const reg = new WorkerRegistration(await pool.open(), paths, { id: 'cw9', capacity: 2, types: ['z9'] }, testLog);
    await reg.register();
    await reg.setState('alive');
    const control = (leader.leadership as unknown as { control: ControlWatch }).control;
    try {
      expect(await requestDrain(s, paths, 'cw9')).toBe(true);
      await waitFor(() => control.drains.has('cw9'), { message: 'the leader has the request' });
      const size = leader.leadership.queueState().size;
      const { id } = await client.submit({ type: 'z9' });
      await waitFor(() => leader.leadership.queueState().size > size, { message: 'z9 indexed' });
      // A round that began after it was indexed has read it and placed it nowhere.
      await roundFinished();
      expect((await client.get(id))!.state).toBe('queued');
      expect((await s.getChildren(paths.assignDir(reg.memberName!))).children).toEqual([]);
      // The positive control: without the request the same member gets it.
      expect(await removeDrain(s, paths, 'cw9')).toBe(true);
      await waitFor(async () => (await client.get(id))?.state === 'assigned', { message: 'z9 assigned to cw9' });
      await client.cancel(id);
    } finally {
      await reg.close();
      await client.resume();
    }
  });

  it('pause --type a --type b pauses both (one write), resume the same way', async () => {
    expect((await procs.run(['pause', '--type', 'x1', '--type', 'x2', ...g])).stdout).toBe('paused: x1, x2\n');
    expect((await procs.run(['resume', '--type', 'x1', '--type', 'x2', ...g])).stdout).toBe('nothing paused\n');
  });

  it('usage errors exit 2 before connecting: drain of an invalid id, drain --wait --cancel, a bad --type', async () => {
    const dead = ['--zk', '127.0.0.1:1', '--root', paths.root, '--connect-timeout', '60000'];
    for (const args of [['drain', 'bad id!'], ['drain', 'cw1', '--wait', '--cancel'], ['pause', '--type', 'ok', '--type', 'bad type!'], ['resume', '--type', '']]) {
      const r = await procs.run([...args, ...dead]);
      expect(r.code, r.stderr).toBe(EXIT.usage);
    }
  });
});
