// The drover CLI as a user runs it: real processes against a real cluster, --json parsed,
// exit codes checked, and errors as one line without a stack.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessPool } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { EXIT } from '../cli/exit-codes.js';
import { tempDir } from './harness/temp.js';

const pool = new SessionPool();
const procs = new ProcessPool();
let root = '';
let g: string[] = [];

beforeAll(async () => {
  const s = await pool.open();
  root = (await freshLayout(s)).root;
  g = ['--zk', zkConnect(), '--root', root, '--session-timeout', String(TEST_SESSION_MS)];
  const m = procs.spawn('m1', ['master', '--id', 'cli-m1', ...g]);
  const w = procs.spawn('w1', ['worker', '--id', 'cli-w1', '--concurrency', '2', ...g]);
  await m.waitForLine((l) => l.msg === 'elected leader');
  await w.waitForLine((l) => l.msg === 'worker alive');
});
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

const drover = (...args: string[]) => procs.run(args);
const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
};

describe('drover CLI', () => {
  it('submit --wait prints the result and exits 0; --json is parseable', async () => {
    const r = await drover('submit', 'echo', '--payload', '{"x":42}', '--id', 'cli-1', '--wait', '--json', ...g);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'cli-1', state: 'succeeded', result: { x: 42 } });
    const again = await drover('submit', 'echo', '--id', 'cli-1', ...g);
    expect(again.code).toBe(EXIT.ok);
    expect(again.stdout).toContain('already submitted');
  });

  it('submit --wait exits non-zero when the task fails', async () => {
    const r = await drover('submit', 'fail', '--payload', '{"retryable":false,"message":"nope"}', '--wait', ...g);
    expect(r.code).toBe(EXIT.taskFailed);
    expect(r.stdout).toContain('failed after 1 attempt(s): nope');
  });

  it('get, list and status with --json', async () => {
    const get = await drover('get', 'cli-1', '--json', ...g);
    expect(get.code).toBe(EXIT.ok);
    expect(JSON.parse(get.stdout)).toMatchObject({ id: 'cli-1', type: 'echo', state: 'succeeded', attempt: 1 });
    // --max-lost reaches the record, and get says how the attempts were counted.
    const capped = await drover('submit', 'echo', '--id', 'cli-lost', '--max-lost', '3', '--max-attempts', '2', '--wait', ...g);
    expect(capped.code).toBe(EXIT.ok);
    expect(JSON.parse((await drover('get', 'cli-lost', '--json', ...g)).stdout)).toMatchObject({ maxLost: 3, maxAttempts: 2, lost: 0 });
    expect((await drover('get', 'cli-lost', ...g)).stdout).toContain('attempt:   1 (1 of 2 used, 0 of 3 lost to infrastructure)');
    const list = await drover('list', '--state', 'succeeded', '--json', ...g);
    const { tasks } = JSON.parse(list.stdout) as { tasks: Array<{ id: string; state: string }> };
    expect(tasks.map((t) => t.id)).toContain('cli-1');
    expect(tasks.every((t) => t.state === 'succeeded')).toBe(true);
    const status = JSON.parse((await drover('status', '--json', ...g)).stdout);
    expect(status.leader.id).toBe('cli-m1');
    expect(status.workers).toHaveLength(1);
    expect(status.workers[0]).toMatchObject({ id: 'cli-w1', state: 'alive', capacity: 2 });
    expect(status.finished).toBeGreaterThanOrEqual(2);
    const human = await drover('status', ...g);
    expect(human.stdout).toContain('leader:      cli-m1');
  });

  it('cancel a running task; cancelling it again is idempotent; a finished task cannot be cancelled', async () => {
    const sub = await drover('submit', 'sleep', '--payload', '{"ms":20000}', '--id', 'cli-long', ...g);
    expect(sub.code).toBe(EXIT.ok);
    const { waitFor } = await import('./harness/wait-for.js');
    await waitFor(async () => JSON.parse((await drover('get', 'cli-long', '--json', ...g)).stdout).state === 'running', { message: 'running' });
    const c = await drover('cancel', 'cli-long', '--json', ...g);
    expect(c.code).toBe(EXIT.ok);
    expect(JSON.parse(c.stdout)).toMatchObject({ id: 'cli-long', cancelled: true, state: 'cancelled' });
    const again = await drover('cancel', 'cli-long', ...g);
    expect(again.code).toBe(EXIT.ok);
    expect(again.stdout).toContain('already cancelled');
    const done = await drover('cancel', 'cli-1', ...g);
    expect(done.code).toBe(EXIT.error);
    expect(done.stdout).toContain('already succeeded');
  });

  it('bulk submit from a JSON-lines file, waiting for all', async () => {
    const dir = tempDir('drover-cli-');
    const file = join(dir, 'tasks.jsonl');
    writeFileSync(file, Array.from({ length: 100 }, (_, i) => JSON.stringify({ type: 'echo', id: `bulk-${i}`, payload: i })).join('\n') + '\n');
    const r = await drover('submit', '--file', file, '--wait', '--json', ...g);
    expect(r.code).toBe(EXIT.ok);
    const out = JSON.parse(r.stdout) as Array<{ id: string; result: number }>;
    expect(out).toHaveLength(100);
    expect(out.map((t) => t.result)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // Waited on all at once, through the client's shared listeners and watches.
    expect(r.stderr).not.toContain('MaxListenersExceededWarning');
    const human = await drover('submit', '--file', file, '--wait', ...g);
    expect(human.code).toBe(EXIT.ok);
    expect(human.stdout.trim().split('\n')).toEqual(Array.from({ length: 100 }, (_, i) => `bulk-${i} succeeded: ${i}`));
  });

  it('errors are one line with a meaningful exit code', async () => {
    const badJson = await drover('submit', 'echo', '--payload', '{oops', ...g);
    expect(badJson.code).toBe(EXIT.error);
    expect(badJson.stderr).toContain('--payload is not valid JSON');
    oneLine(badJson.stderr);

    const missing = await drover('get', 'no-such-task', ...g);
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.stderr.trim()).toBe('drover: task no-such-task not found');

    const big = await drover('submit', 'echo', '--payload', JSON.stringify('x'.repeat(70_000)), ...g);
    expect(big.code).toBe(EXIT.error);
    expect(big.stderr).toMatch(/payload of task \S+ is 70002 bytes, over the 65536-byte limit/);
    oneLine(big.stderr);

    const usage = await drover('frobnicate', ...g);
    expect(usage.code).toBe(EXIT.usage);
    oneLine(usage.stderr);
  });

  it('bad arguments and invalid tasks are refused before connecting, in one line', async () => {
    // An unreachable ZooKeeper: a command that tried to connect would exit 3, not 2 or 1.
    const away = ['--zk', '127.0.0.1:1', '--connect-timeout', '3000'];
    const bad = [['get'], ['cancel'], ['list', '--state', 'weird'], [], ['worker', '--concurrency', '0'], ['master', '--id', 'a/b'], ['status', '--session-timeout', 'x'], ['submit'], ['submit', 'echo', '--wait', '--wait-timeout', 'abc'], ['list', '--limit', '0'],
      // Ids that cannot name a task, roots that are not ZooKeeper paths.
      ['get', ''], ['cancel', 'a/b'], ['status', '--root', 'drover'], ['list', '--root', '/a//b'], ['submit', 'echo', '--root', '/x/'], ['worker', '--root', '/w/../x']];
    for (const args of bad) {
      const r = await drover(...args, ...away);
      expect(r.code, `drover ${args.join(' ')}`).toBe(EXIT.usage);
      oneLine(r.stderr);
    }
    const prio = await drover('submit', 'echo', '--priority', 'x', ...away);
    expect(prio.code).toBe(EXIT.error);
    expect(prio.stderr.trim()).toBe('drover: priority must be an integer in 0..9999, got NaN');
    const lost = await drover('submit', 'echo', '--max-lost', '-1', ...away);
    expect(lost.code).toBe(EXIT.error);
    expect(lost.stderr.trim()).toBe('drover: maxLost must be an integer in 0..1000, got -1');
    const dir = tempDir('drover-cli-');
    const file = join(dir, 'tasks.jsonl');
    writeFileSync(file, '{"type":"echo"}\n\n{"type":"bad type"}\n');
    const bulk = await drover('submit', '--file', file, ...away);
    expect(bulk.code).toBe(EXIT.error);
    expect(bulk.stderr).toContain(`${file} line 3: type must be`);
    oneLine(bulk.stderr);
  });

  it('a bad --zk connect string is a usage error in one line, for every command, before connecting', async () => {
    const cases: Array<[string, string[]]> = [
      ['localhost:23181x', ['status']],
      ['localhost:99999', ['get', 'x']],
      ['localhost:23181x', ['submit', 'echo', '--wait']],
      ['127.0.0.1:2181,:2181', ['worker']],
      ['localhost:0', ['master']],
      ['localhost:99999', ['list']],
      ['localhost:99999', ['cancel', 'x']],
    ];
    for (const [zk, args] of cases) {
      const t0 = Date.now();
      const r = await drover(...args, '--zk', zk, '--connect-timeout', '3000');
      expect(r.code, `drover ${args.join(' ')} --zk ${zk}: ${r.stderr}`).toBe(EXIT.usage);
      oneLine(r.stderr);
      expect(r.stderr).toContain(`--zk: invalid ZooKeeper connect string ${JSON.stringify(zk)}`);
      expect(r.stderr).not.toContain('ERR_SOCKET_BAD_PORT');
      // Refused before connecting: well under the connect timeout.
      expect(Date.now() - t0, `drover ${args.join(' ')}`).toBeLessThan(2500);
    }
  });

  it('reading commands do not create a cluster under a mistyped root', async () => {
    const typo = `${root}-typo`;
    for (const args of [['status'], ['list'], ['get', 'x'], ['cancel', 'x']]) {
      const r = await drover(...args, '--zk', zkConnect(), '--root', typo);
      expect(r.code, `drover ${args.join(' ')}`).toBe(EXIT.error);
      expect(r.stderr.trim()).toBe(`drover: no drover cluster under ${typo} (nothing has run there; check --root)`);
    }
    const s = await pool.open();
    expect(await s.exists(typo)).toBeNull();
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await drover('--version');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout.trim()).toBe(version);
  });

  it('does not hang when ZooKeeper is unreachable', async () => {
    const t0 = Date.now();
    const r = await drover('status', '--zk', '127.0.0.1:1', '--connect-timeout', '1500');
    expect(r.code).toBe(EXIT.unavailable);
    expect(r.stderr).toContain('ZooKeeper unavailable: cannot reach ZooKeeper at 127.0.0.1:1');
    oneLine(r.stderr);
    expect(Date.now() - t0).toBeLessThan(6000);
  });

  it('a second SIGTERM during a drain exits at once with 130 (the bin exits, not the command)', async () => {
    const w = procs.spawn('w-slow', ['worker', '--id', 'cli-slow', '--labels', 'slow=yes', '--grace', '30000', ...g]);
    await w.waitForLine((l) => l.msg === 'worker alive');
    const sub = await drover('submit', 'sleep', '--payload', '{"ms":60000}', '--labels', 'slow=yes', '--json', ...g);
    expect(sub.code).toBe(EXIT.ok);
    await w.waitForLine((l) => l.msg === 'started');
    w.signal('SIGTERM');
    await w.waitForLine((l) => l.msg === 'draining');
    const t0 = Date.now();
    w.signal('SIGTERM');
    expect(await w.waitExit(5000)).toBe(EXIT.interrupted);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(w.text.join('\n')).toContain('second SIGTERM, exiting now');
    await drover('cancel', JSON.parse(sub.stdout).id, ...g);
  });
});
