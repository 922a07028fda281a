// drover watch as a user runs it (real processes; `npm run build` first): one task's events in
// order, exit once its ids are terminal; --json parseable; an unknown id named, exit not-found;
// ids with --type refused; every task of a type until SIGINT; ZooKeeper gone (while the feed
// opens, or later) exits 3; a reader that goes away (`| head -1`) ends it quietly with 0.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, exitForOutcomes } from '../cli/exit-codes.js';
import { OP, OpProxy } from './harness/op-proxy.js';
import { DROVER_BIN } from './harness/processes.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { ProcessPool } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { DroverClient } from '../client/drover-client.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const procs = new ProcessPool();
let g: string[] = [];
let root = '';
let client: DroverClient;

beforeAll(async () => {
  const s = await pool.open();
  root = (await freshLayout(s)).root;
  client = await DroverClient.connect({ session: s, root });
  g = ['--zk', zkConnect(), '--root', root, '--session-timeout', String(TEST_SESSION_MS)];
  const m = procs.spawn('m1', ['master', '--id', 'watch-m1', ...g]);
  await m.waitForLine((l) => l.msg === 'elected leader');
});
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

let worker: Promise<unknown> | undefined;
/** One worker for the file, started by the first test that needs one. */
function ensureWorker(): Promise<unknown> {
  return (worker ??= procs.spawn('w1', ['worker', '--id', 'watch-w1', ...g]).waitForLine((l) => l.msg === 'worker alive'));
}

describe('drover watch', () => {
  it('ID: the events of one task in order, then exits 0 once it is terminal; --json parseable', async () => {
    const { id } = await client.submit({ type: 'sleep', payload: { ms: 300 } });
    const text = procs.spawn('watch-text', ['watch', id, ...g]);
    const json = procs.spawn('watch-json', ['watch', id, '--json', ...g]);
    // The worker starts once both have shown the task queued.
    await waitFor(() => text.text.length > 0 && json.lines.length > 0, { message: 'both watches show the queued task' });
    await ensureWorker();
    expect(await text.waitExit()).toBe(EXIT.ok);
    const lines = text.text;
    expect(lines.map((l) => l.split(' ')[3])).toEqual(['queued', 'assigned', 'started', 'succeeded']);
    expect(lines[2]).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} ${id} sleep started attempt 1 on watch-w1~`));
    expect(await json.waitExit()).toBe(EXIT.ok);
    const events = json.lines as unknown as Array<{ kind: string; id: string; state: string }>;
    expect(events.map((e) => e.kind)).toEqual(['queued', 'assigned', 'started', 'finished']);
    expect(events.at(-1)).toMatchObject({ id, state: 'succeeded' });
    // Already terminal: printed at once, exit at once.
    const again = await procs.run(['watch', id, ...g]);
    expect(again.code).toBe(EXIT.ok);
    expect(again.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('a failed task exits 5; an unknown id is named in one line, exit not-found', async () => {
    const { id } = await client.submit({ type: 'fail', payload: { retryable: false, message: 'nope' } });
    const r = await procs.run(['watch', id, ...g]);
    expect(r.code).toBe(EXIT.taskFailed);
    expect(r.stdout).toContain(`${id} fail failed attempt 1`);
    expect(r.stdout).toContain('[handler] nope');
    const u = await procs.run(['watch', id, 'no-such-task', ...g]);
    expect(u.code).toBe(EXIT.notFound);
    expect(u.stderr.trim()).toBe('drover: no such task: no-such-task');
  });

  it('ids with --type: a usage error (such a watch could never end)', async () => {
    const r = await procs.run(['watch', 'some-id', '--type', 'sleep', ...g]);
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain('give task ids or --type, not both');
  });

  it('without ids: every task of --type, in order, until SIGINT (exit 0)', async () => {
    await ensureWorker();
    const w = procs.spawn('watch-all', ['watch', '--type', 'echo', ...g]);
    // The feed shows what happens from when it is open: echo tasks until one is shown.
    const probes: string[] = [];
    await waitFor(async () => {
      if (w.text.length > 0) return true;
      probes.push((await client.submit({ type: 'echo', payload: 'probe' })).id);
      return false;
    }, { intervalMs: 200, message: 'the watch shows a probe' });
    await Promise.all(probes.map((id) => client.wait(id, { timeoutMs: 10_000 })));
    const other = await client.submit({ type: 'sleep', payload: { ms: 0 } });
    const { id } = await client.submit({ type: 'echo', payload: 1 });
    await client.wait(other.id, { timeoutMs: 10_000 });
    await waitFor(() => w.text.some((l) => l.includes(`${id} echo succeeded`)), { message: 'the echo task shown succeeded' });
    w.signal('SIGINT');
    expect(await w.waitExit()).toBe(EXIT.ok);
    expect(w.text.filter((l) => l.includes(` ${id} `)).map((l) => l.split(' ')[3])).toEqual(['queued', 'assigned', 'started', 'succeeded']);
    expect(w.text.some((l) => l.includes(other.id))).toBe(false);
  });

  it('ZooKeeper gone while the feed opens (the record read goes silent): exit 3 within about --connect-timeout, one line', async () => {
    const proxy = await OpProxy.start(zkConnect());
    try {
      // The read fails as "away" and the feed opens while disconnected: the away timer must be armed anyway.
      const { id } = await client.submit({ type: 'unhandled' });
      void proxy.dropFrom({ op: OP.getData, contains: id });
      const t0 = Date.now();
      const r = await procs.run(['watch', id, '--zk', proxy.connectString, '--root', root, '--connect-timeout', '1000', '--session-timeout', String(TEST_SESSION_MS)]);
      expect(r.code).toBe(EXIT.unavailable);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/ZooKeeper|session/);
      // Noticing the silence takes up to a session timeout, then --connect-timeout away.
      expect(Date.now() - t0).toBeLessThan(TEST_SESSION_MS + 1000 + 4000);
      await client.cancel(id);
    } finally {
      await proxy.stop();
    }
  });

  it('ZooKeeper gone after start (TCP cut): exit 3 within about --connect-timeout, one line', async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      // No worker runs this type: it stays queued.
      const { id } = await client.submit({ type: 'unhandled' });
      const w = procs.spawn('watch-cut', ['watch', id, '--zk', proxy.connectString, '--root', root, '--connect-timeout', '1000', '--session-timeout', String(TEST_SESSION_MS)]);
      await waitFor(() => w.text.length > 0, { message: 'the watch shows the task' });
      const t0 = Date.now();
      proxy.cut('close');
      expect(await w.waitExit()).toBe(EXIT.unavailable);
      expect(Date.now() - t0).toBeLessThan(1000 + 3000);
      expect(w.text.slice(1)).toHaveLength(1);
      expect(w.text[1]).toMatch(/^drover: .*no ZooKeeper session for 1000 ms/);
      await client.cancel(id).catch(() => undefined);
    } finally {
      await proxy.stop();
    }
  });

  it('`watch | head -1`: the reader gone (EPIPE) ends it with 0, no stack', async () => {
    await ensureWorker();
    const sh = `"${process.execPath}" "${DROVER_BIN}" watch --type echo ${g.join(' ')} | head -1; echo "status \${PIPESTATUS[0]}" >&2`;
    const child = spawn('bash', ['-c', sh], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise((r) => child.once('exit', r));
    let done = false;
    void exited.then(() => (done = true));
    try {
      // Events until the pipeline ends: head takes the first line and goes; watch writes on.
      await waitFor(async () => {
        if (done) return true;
        await client.submit({ type: 'echo', payload: 'pipe' });
        return false;
      }, { intervalMs: 200, timeoutMs: 15_000, message: 'the pipeline ends' });
    } finally {
      if (!done) child.kill('SIGKILL');
    }
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(err.trim()).toBe(`status ${EXIT.ok}`);
  });
});

describe('exitForOutcomes', () => {
  it('any failed → 5, else any cancelled → 6, else 0, whatever the order', () => {
    expect(exitForOutcomes([])).toBe(EXIT.ok);
    expect(exitForOutcomes(['succeeded', 'succeeded'])).toBe(EXIT.ok);
    expect(exitForOutcomes(['cancelled', 'failed', 'succeeded'])).toBe(EXIT.taskFailed);
    expect(exitForOutcomes(['failed', 'cancelled'])).toBe(EXIT.taskFailed);
    expect(exitForOutcomes(['succeeded', 'cancelled'])).toBe(EXIT.taskCancelled);
  });
});
