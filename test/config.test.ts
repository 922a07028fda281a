// Options from a config file and from DROVER_<OPTION>: flag > environment > file > default, seen
// on real CLI processes against a real ZooKeeper (which root `list` reads, which connect
// timeout `status` waits, a worker's capacity in `status`); unknown keys and bad values refused
// naming the key and where it came from (exit 2, before connecting); the DROVER_* variables
// that are no options never make a command fail.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { runCli, type CliResult } from './harness/cli-run.js';
import { DROVER_BIN, ProcessPool } from './harness/processes.js';
import { tempDir } from './harness/temp.js';
import { SessionPool, freshLayout, zkConnect } from './harness/zk.js';
import { guardChild } from '../shared/zk-server/orphan-guard.js';

const pool = new SessionPool();
const procs = new ProcessPool();
const dir = tempDir('drover-config-');
// The options these tests set from files: an empty variable is unset (a CI's DROVER_ZK must not win).
const CLEAN: NodeJS.ProcessEnv = { DROVER_ZK: '', DROVER_ROOT: '', DROVER_CONFIG: '', DROVER_CONNECT_TIMEOUT: '', DROVER_CONCURRENCY: '', DROVER_ID: '', DROVER_WORKER_CONCURRENCY: '', DROVER_WORKER_ID: '' };
const roots: Record<'file' | 'section' | 'env' | 'flag', string> = { file: '', section: '', env: '', flag: '' };

const drover = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...CLEAN, ...env }, timeoutMs: 20_000 });
const config = (name: string, data: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof data === 'string' ? data : JSON.stringify(data));
  return p;
};
/** `drover args` run in `cwd` (where ./drover.config.json is looked for). */
function droverIn(cwd: string, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [DROVER_BIN, ...args], { cwd, env: { ...process.env, ...CLEAN }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) guardChild(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => child.once('exit', (code) => (clearTimeout(t), resolve({ code, stdout, stderr }))));
}
const listed = (r: CliResult) => {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(EXIT.ok);
  return (JSON.parse(r.stdout) as { tasks: Array<{ id: string }> }).tasks.map((t) => t.id);
};
const usage = (r: CliResult, ...parts: string[]) => {
  expect(r.code).toBe(EXIT.usage);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  for (const p of parts) expect(r.stderr).toContain(p);
};

beforeAll(async () => {
  const s = await pool.open();
  // Four roots, each holding one queued task named after where its --root will come from.
  await Promise.all(
    (Object.keys(roots) as Array<keyof typeof roots>).map(async (k) => {
      roots[k] = (await freshLayout(s)).root;
      const r = await drover(['submit', 'echo', '--id', `t-${k}`, '--zk', zkConnect(), '--root', roots[k]]);
      expect(r.code).toBe(EXIT.ok);
    }),
  );
});
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

describe('config file and environment', () => {
  it('the root comes from the file, its command section over its top level, the environment over both, a flag over all', async () => {
    const top = config('top.json', { zk: zkConnect(), root: roots.file });
    const sec = config('section.json', { zk: zkConnect(), root: roots.file, list: { root: roots.section, json: true } });
    expect(listed(await drover(['list', '--json', '--config', top]))).toEqual(['t-file']);
    expect(listed(await drover(['list', `--config=${sec}`]))).toEqual(['t-section']);
    expect(listed(await drover(['list', '--config', sec], { DROVER_ROOT: roots.env }))).toEqual(['t-env']);
    expect(listed(await drover(['list', '--config', sec, '--root', roots.flag], { DROVER_ROOT: roots.env }))).toEqual(['t-flag']);
    // $DROVER_CONFIG names the file; ./drover.config.json is read when present, and only then.
    expect(listed(await drover(['list'], { DROVER_CONFIG: sec }))).toEqual(['t-section']);
    const cwd = tempDir('drover-config-cwd-');
    writeFileSync(join(cwd, 'drover.config.json'), JSON.stringify({ zk: zkConnect(), root: roots.file, json: true }));
    expect(listed(await droverIn(cwd, ['list']))).toEqual(['t-file']);
  });

  it('durations take the flags\' strings: connect-timeout "300ms" from the file bounds the wait for an absent server', async () => {
    const away = config('away.json', { zk: '127.0.0.1:1', 'connect-timeout': '300ms', 'session-timeout': '2s' });
    const t0 = Date.now();
    const r = await drover(['status', '--config', away]);
    expect(r.code).toBe(EXIT.unavailable);
    expect(r.stderr).toContain('within 300 ms');
    expect(Date.now() - t0).toBeLessThan(10_000);
    // DROVER_CONNECT_TIMEOUT over the file, a flag over both.
    expect((await drover(['status', '--config', away], { DROVER_CONNECT_TIMEOUT: '400ms' })).stderr).toContain('within 400 ms');
    expect((await drover(['status', '--config', away, '--connect-timeout', '500'], { DROVER_CONNECT_TIMEOUT: '400ms' })).stderr).toContain('within 500 ms');
  });

  it('a worker takes its section: concurrency and id from "worker" over the top level, seen in status', async () => {
    const f = config('worker.json', { zk: zkConnect(), root: roots.file, 'session-timeout': '2s', worker: { concurrency: 3, id: 'cfg-w1' } });
    const w = procs.spawn('cfg-w1', ['worker', '--config', f], CLEAN);
    await w.waitForLine((l) => l.msg === 'worker alive');
    const st = await drover(['status', '--json', '--config', f]);
    expect(st.code).toBe(EXIT.ok);
    expect(JSON.parse(st.stdout).workers).toEqual([expect.objectContaining({ id: 'cfg-w1', capacity: 3 })]);
  });

  it('an unknown key, top level or in a section, is refused naming it and the file, before connecting', async () => {
    // A server that is not there, waited for at length: a refusal after connecting would take 20 s and exit 3.
    const base = { zk: '127.0.0.1:1', 'connect-timeout': '20s' };
    const top = config('unknown-top.json', { ...base, sessionTimeout: '6s' });
    // Checked whichever command runs: a typo in the worker's section stops `status` too.
    const sec = config('unknown-section.json', { ...base, worker: { concurency: 8 } });
    // An option of another command only, in a section.
    const other = config('other-section.json', { ...base, status: { concurrency: 8 } });
    const status = (f: string) => drover(['status', '--config', f]);
    const [a, b, c, d, e] = await Promise.all([top, sec, other, config('not-object.json', '[1]'), config('not-json.json', '{ zk: 1 }')].map(status));
    usage(a!, top, 'unknown key "sessionTimeout"', 'did you mean "session-timeout"');
    usage(b!, sec, 'unknown key "worker.concurency"', 'did you mean "concurrency"');
    usage(c!, other, 'unknown key "status.concurrency"');
    usage(d!, 'must hold a JSON object');
    usage(e!, 'not-json.json: not valid JSON');
    // A command's own option at the top level would reach every command that has it (`id` is a
    // member's name to a worker, a task's id to submit): refused, pointing to the sections.
    const topId = config('top-id.json', { ...base, id: 'worker-1' });
    usage(await status(topId), topId, '"id" belongs in a command\'s section');
  });

  it("a command's own option comes from DROVER_<COMMAND>_<OPTION>: DROVER_ID set for a worker does not name submit's tasks", async () => {
    const withEnv = { DROVER_ID: 'worker-1', DROVER_TIMEOUT: '1ms' };
    const root = `${roots.flag}-own-env`; // its own root: the other tests list theirs
    const a = await drover(['submit', 'echo', '--json', '--zk', zkConnect(), '--root', root], withEnv);
    expect(a.code).toBe(EXIT.ok);
    const sub = JSON.parse(a.stdout) as { id: string };
    expect(sub.id).not.toBe('worker-1');
    const b = await drover(['submit', 'echo', '--json', '--zk', zkConnect(), '--root', root], { DROVER_SUBMIT_ID: 'env-named-task' });
    expect(b.code).toBe(EXIT.ok);
    expect((JSON.parse(b.stdout) as { id: string }).id).toBe('env-named-task');
  });

  it('a bad value is refused naming the key and the file (or the variable)', async () => {
    const base = { zk: '127.0.0.1:1', 'connect-timeout': '20s' };
    const dur = config('bad-duration.json', { ...base, 'session-timeout': '6 secs' });
    const type = config('bad-type.json', { ...base, json: 'yes' });
    const choice = config('bad-choice.json', { ...base, master: { 'log-level': 'loud' } });
    // A range the command checks: named with where the value came from.
    const range = config('bad-range.json', { ...base, worker: { concurrency: 0 } });
    const [a, b, c, d, e, f, g, ok] = await Promise.all([
      drover(['status', '--config', dur]),
      drover(['status', '--config', type]),
      drover(['status', '--config', choice]),
      drover(['worker', '--config', range]),
      drover(['worker', '--config', range], { DROVER_WORKER_CONCURRENCY: 'many' }),
      drover(['worker', '--config', range], { DROVER_WORKER_CONCURRENCY: '0' }),
      drover(['status', '--zk', '127.0.0.1:1', '--connect-timeout', '20s'], { DROVER_ROOT: 'drover' }),
      // The flag over the bad value: nothing to refuse (the worker's variable is no option of status either).
      drover(['status', '--json', '--zk', zkConnect(), '--root', roots.flag], { DROVER_ROOT: 'drover', DROVER_CONCURRENCY: 'many' }),
    ]);
    usage(a!, `${dur}: "session-timeout"`, 'is not a duration');
    usage(b!, `${type}: "json" must be true or false, got "yes"`);
    usage(c!, `${choice}: "master.log-level" must be one of`);
    usage(d!, `${range}: "worker.concurrency": --concurrency must be an integer in 1..1000, got 0`);
    usage(e!, 'DROVER_WORKER_CONCURRENCY must be a number, got "many"');
    usage(f!, 'DROVER_WORKER_CONCURRENCY: --concurrency must be an integer in 1..1000, got 0');
    usage(g!, 'DROVER_ROOT: --root must be a ZooKeeper path');
    expect(ok!.code).toBe(EXIT.ok);
  });

  it('--config naming a missing file is an error; a missing ./drover.config.json is not', async () => {
    const missing = join(dir, 'nope.json');
    const [a, b, c, d] = await Promise.all([
      drover(['status', '--config', missing, '--zk', '127.0.0.1:1', '--connect-timeout', '20s']),
      drover(['status', '--zk', '127.0.0.1:1', '--connect-timeout', '20s'], { DROVER_CONFIG: missing }),
      drover(['status', '--config']),
      droverIn(tempDir('drover-config-none-'), ['list', '--json', '--zk', zkConnect(), '--root', roots.flag]),
    ]);
    usage(a!, `--config ${missing}: cannot read it (no such file)`);
    usage(b!, `DROVER_CONFIG ${missing}: cannot read it`);
    usage(c!, '--config: name a JSON file');
    expect(listed(d!)).toEqual(['t-flag']);
  });

  it('DROVER_* variables that are no options (the test harness\'s) never make a command fail', async () => {
    const r = await drover(['list', '--json', '--zk', zkConnect(), '--root', roots.flag], {
      DROVER_ZK_LOCAL: 'none',
      DROVER_ZK_DOCKER: 'none',
      DROVER_ZK_JAR: '/nowhere.jar',
      DROVER_CHROMIUM: '/nowhere/chromium',
      DROVER_CHROMIUM_INSTALL: 'none',
      DROVER_TEST_LOG: 'silent',
      DROVER_DASHBOARD_SCREENSHOT: '/tmp/x.png',
      DROVER_NOT_AN_OPTION: 'x',
    });
    expect(listed(r)).toEqual(['t-flag']);
  });
});
