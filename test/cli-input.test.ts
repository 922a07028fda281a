// What a person types: durations for every time option (one parser, errors naming the option),
// --payload @file and - (stdin), --file - and an unknown field refused with its line number
// before anything is submitted. Real CLI processes against an in-process cluster.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { formatDuration, parseDuration, parseSince, UsageError } from '../cli/common.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli } from './harness/cli-run.js';
import { tempDir } from './harness/temp.js';
import { zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
let g: string[] = [];
beforeAll(async () => {
  cluster = await startCluster({ workers: [{ id: 'input-w1', concurrency: 4 }] });
  g = ['--zk', zkConnect(), '--root', cluster.paths.root, '--session-timeout', '2s', '--connect-timeout', '5s'];
});
afterAll(async () => {
  await cluster?.stop();
});

const away = ['--zk', '127.0.0.1:1', '--connect-timeout', '3s'];
const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
};

describe('durations', () => {
  it('parse as a person writes them; a plain number is ms; the error names the option', () => {
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration('5s', 'x')).toBe(5000);
    expect(parseDuration('2m', 'x')).toBe(120_000);
    expect(parseDuration('1h30m', 'x')).toBe(5_400_000);
    expect(parseDuration('1.5s', 'x')).toBe(1500);
    expect(parseDuration('1d', 'x')).toBe(86_400_000);
    expect(parseDuration('1200', 'x')).toBe(1200);
    expect(parseDuration(30000, 'x')).toBe(30000);
    for (const bad of ['', '5x', 's', '-5s', '5 s', 'soon', '1h-2m']) {
      expect(() => parseDuration(bad, 'grace'), bad).toThrow(UsageError);
      expect(() => parseDuration(bad, 'grace'), bad).toThrow(/^--grace: /);
    }
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(parseDuration(formatDuration(93_784_005), 'x')).toBe(93_784_005);
    expect(parseSince('15m', 'since', 1_000_000_000)).toBe(1_000_000_000 - 900_000);
    expect(parseSince('2024-05-01T12:00:00Z', 'since')).toBe(Date.UTC(2024, 4, 1, 12));
    expect(() => parseSince('yesterday', 'since')).toThrow(/^--since: /);
  });

  it('reach the task and the command: --timeout 1m30s, --wait-timeout 300ms', async () => {
    const sub = await runCli(['submit', 'echo', '--id', 'dur-1', '--timeout', '1m30s', ...g]);
    expect(sub.code, sub.stderr).toBe(EXIT.ok);
    const rec = JSON.parse((await runCli(['get', 'dur-1', '--json', ...g])).stdout);
    expect(rec.timeoutMs).toBe(90_000);
    const t0 = Date.now();
    const w = await runCli(['submit', 'sleep', '--id', 'dur-2', '--payload', '{"ms":60000}', '--wait', '--wait-timeout', '300ms', ...g]);
    expect(w.code).toBe(EXIT.waitTimeout);
    expect(w.stderr).toMatch(/^drover: task dur-2 is still (queued|assigned|running) after 300ms; re-attach with: drover wait dur-2\n$/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    await cluster!.client.cancel('dur-2');
  });

  it('a bad duration is a usage error naming its option, before connecting', async () => {
    for (const [args, option] of [
      [['submit', 'echo', '--timeout', '5x'], 'timeout'],
      [['submit', 'echo', '--wait', '--wait-timeout', 'soon'], 'wait-timeout'],
      [['status', '--connect-timeout', '3 s'], 'connect-timeout'],
      [['wait', 'x', '--timeout', '1y'], 'timeout'],
      [['list', '--since', 'yesterday'], 'since'],
    ] as const) {
      const r = await runCli([...args, ...away]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(EXIT.usage);
      expect(r.stderr).toMatch(new RegExp(`^drover: --${option}: `));
      oneLine(r.stderr);
    }
  });
});

describe('payloads and task files', () => {
  it('--payload @file and --payload - (stdin)', async () => {
    const dir = tempDir('drover-input-');
    const file = join(dir, 'payload.json');
    writeFileSync(file, JSON.stringify({ from: 'file', n: [1, 2] }));
    const a = await runCli(['submit', 'echo', '--payload', `@${file}`, '--wait', '--json', ...g]);
    expect(a.code, a.stderr).toBe(EXIT.ok);
    expect(JSON.parse(a.stdout).result).toEqual({ from: 'file', n: [1, 2] });
    const b = await runCli(['submit', 'echo', '--payload', '-', '--wait', '--json', ...g], { input: '{"from":"stdin"}\n' });
    expect(b.code, b.stderr).toBe(EXIT.ok);
    expect(JSON.parse(b.stdout).result).toEqual({ from: 'stdin' });
    const missing = await runCli(['submit', 'echo', '--payload', `@${join(dir, 'nope.json')}`, ...away]);
    expect(missing.code).toBe(EXIT.error);
    expect(missing.stderr.trim()).toBe(`drover: cannot read ${join(dir, 'nope.json')}: ENOENT`);
    const bad = await runCli(['submit', 'echo', '--payload', '-', ...away], { input: '{oops' });
    expect(bad.code).toBe(EXIT.error);
    expect(bad.stderr).toContain('--payload - (stdin) is not valid JSON');
    oneLine(bad.stderr);
  });

  it('--file - reads the tasks from stdin', async () => {
    const lines = ['in-1', 'in-2', 'in-3'].map((id, i) => JSON.stringify({ type: 'echo', id, payload: i })).join('\n');
    const r = await runCli(['submit', '--file', '-', '--wait', '--json', ...g], { input: lines + '\n' });
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect((JSON.parse(r.stdout) as Array<{ id: string; result: number }>).map((t) => [t.id, t.result])).toEqual([['in-1', 0], ['in-2', 1], ['in-3', 2]]);
  });

  it('an unknown field is refused with its line number, and nothing of the file is submitted', async () => {
    const dir = tempDir('drover-input-');
    const file = join(dir, 'tasks.jsonl');
    writeFileSync(file, ['{"type":"echo","id":"unk-1"}', '', '{"type":"echo","id":"unk-2","paylod":{"x":1}}', '{"type":"echo","id":"unk-3"}'].join('\n'));
    // Against the live cluster: had anything been sent, unk-1 would exist.
    const r = await runCli(['submit', '--file', file, ...g]);
    expect(r.code).toBe(EXIT.error);
    expect(r.stderr).toContain(`drover: ${file} line 3: unknown field "paylod" (a task has type, payload, id,`);
    oneLine(r.stderr);
    expect(await cluster!.client.get('unk-1')).toBeNull();
    writeFileSync(file, '{"type":"echo","backoff":{"initialMs":5,"maxMS":9}}\n');
    const nested = await runCli(['submit', '--file', file, ...away]);
    expect(nested.code).toBe(EXIT.error);
    expect(nested.stderr).toContain('line 1: unknown field "backoff.maxMS"');
  });
});
