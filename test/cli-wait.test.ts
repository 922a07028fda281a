// `drover wait ID...` re-attaching to tasks, Ctrl-C of `submit --wait` (the tasks go on, and
// the line says how to come back), and progress on stderr: plain lines when stderr is a pipe,
// a bar under a real pseudo-terminal; --json stdout never mixed with either.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli, runInTerminal, startCli } from './harness/cli-run.js';
import { tempDir } from './harness/temp.js';
import { waitFor } from './harness/wait-for.js';
import { zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
let g: string[] = [];
beforeAll(async () => {
  cluster = await startCluster({ workers: [{ id: 'wait-w1', concurrency: 8 }] });
  g = ['--zk', zkConnect(), '--root', cluster.paths.root, '--session-timeout', '2s'];
});
afterAll(async () => {
  await cluster?.stop();
});

const state = async (id: string) => (await cluster!.client.get(id))?.state;
const tasksFile = (prefix: string, n: number, payload: (i: number) => unknown = (i) => i, type = 'echo') => {
  const file = join(tempDir('drover-wait-'), 'tasks.jsonl');
  writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ type, id: `${prefix}-${i}`, payload: payload(i) })).join('\n') + '\n');
  return file;
};

describe('drover wait', () => {
  it('re-attaches to submitted tasks: outcomes in the order given, the exit code of the worst', async () => {
    await cluster!.client.submit({ type: 'sleep', id: 'wa-1', payload: { ms: 300 } });
    await cluster!.client.submit({ type: 'echo', id: 'wa-2', payload: 'two' });
    const ok = await runCli(['wait', 'wa-1', 'wa-2', ...g]);
    expect(ok.code, ok.stderr).toBe(EXIT.ok);
    expect(ok.stdout).toBe('wa-1 succeeded: {"sleptMs":300}\nwa-2 succeeded: "two"\n');
    const one = await runCli(['wait', 'wa-2', '--json', ...g]);
    expect(JSON.parse(one.stdout)).toMatchObject({ id: 'wa-2', state: 'succeeded', result: 'two' });
    await cluster!.client.submit({ type: 'fail', id: 'wa-3', payload: { retryable: false, message: 'no' } });
    const failed = await runCli(['wait', 'wa-2', 'wa-3', '--json', ...g]);
    expect(failed.code).toBe(EXIT.taskFailed);
    expect((JSON.parse(failed.stdout) as Array<{ state: string }>).map((r) => r.state)).toEqual(['succeeded', 'failed']);
    const missing = await runCli(['wait', 'wa-2', 'no-such', ...g]);
    expect(missing.code).toBe(EXIT.notFound);
    expect(missing.stderr.trim()).toBe('drover: task no-such not found');
    const stdin = await runCli(['wait', '-', ...g], { input: 'wa-1\nwa-2 wa-1\n' });
    expect(stdin.stdout, stdin.stderr).toBe('wa-1 succeeded: {"sleptMs":300}\nwa-2 succeeded: "two"\n');
    const optionsFirst = await runCli([...g, 'wait', '-'], { input: 'wa-2\n' });
    expect(optionsFirst.stdout, optionsFirst.stderr).toBe('wa-2 succeeded: "two"\n');
    const usage = await runCli(['wait', 'a/b', ...g]);
    expect(usage.code).toBe(EXIT.usage);
  });

  it('Ctrl-C of submit --wait says the task goes on and how to re-attach, exits 130; the task runs on', async () => {
    const p = startCli(['submit', 'sleep', '--id', 'cc-1', '--payload', '{"ms":60000}', '--wait', ...g]);
    try {
      await waitFor(async () => (await state('cc-1')) === 'running', { message: 'cc-1 running' });
      p.child.kill('SIGINT');
      const r = await p.done;
      expect(r.code).toBe(EXIT.interrupted);
      expect(r.stderr).toBe('drover: interrupted (SIGINT); task cc-1 not finished yet: it stays submitted and goes on. Re-attach with: drover wait cc-1\n');
    } finally {
      p.kill();
    }
    expect(await state('cc-1')).toBe('running');
    const later = await runCli(['wait', 'cc-1', '--timeout', '200ms', ...g]);
    expect(later.code).toBe(EXIT.waitTimeout);
    await cluster!.client.cancel('cc-1');
    const cancelled = await runCli(['wait', 'cc-1', ...g]);
    expect(cancelled.code).toBe(EXIT.taskCancelled);
  });

  it('an interrupted wait of many names a file of the ids left, which wait - reads back', async () => {
    const file = tasksFile('many', 30, () => ({ ms: 60_000 }), 'sleep');
    expect((await runCli(['submit', '--file', file, ...g])).code).toBe(EXIT.ok);
    const p = startCli(['wait', ...Array.from({ length: 30 }, (_, i) => `many-${i}`), ...g]);
    try {
      // The first progress line comes once the interrupt handlers are on.
      await waitFor(() => p.stderr().includes('drover: finished 0/30 (0 succeeded, 0 failed)'), { message: 'wait started' });
      p.child.kill('SIGTERM');
      const r = await p.done;
      expect(r.code).toBe(EXIT.interrupted);
      const m = /Re-attach with: drover wait - < (\S+) \(30 ids\)\n$/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      expect(readFileSync(m![1]!, 'utf8').trim().split('\n')).toEqual(Array.from({ length: 30 }, (_, i) => `many-${i}`));
      unlinkSync(m![1]!);
    } finally {
      p.kill();
    }
    await Promise.all(Array.from({ length: 30 }, (_, i) => cluster!.client.cancel(`many-${i}`)));
  });

  it('a timeout prints the outcomes that did come, even behind an unfinished one; the hint names only the rest', async () => {
    await cluster!.client.submit({ type: 'sleep', id: 'to-1', payload: { ms: 60_000 } });
    await cluster!.client.submit({ type: 'fail', id: 'to-2', payload: { retryable: false, message: 'broke' } });
    await waitFor(async () => (await state('to-2')) === 'failed', { message: 'to-2 failed' });
    const r = await runCli(['wait', 'to-1', 'to-2', '--timeout', '300ms', ...g]);
    expect(r.code).toBe(EXIT.waitTimeout);
    expect(r.stdout).toBe('to-2 failed after 1 attempt(s): broke\n');
    expect(r.stderr).toMatch(/re-attach with: drover wait to-1\n$/);
    const j = await runCli(['wait', 'to-1', 'to-2', '--timeout', '300ms', '--json', ...g]);
    expect(j.code).toBe(EXIT.waitTimeout);
    expect((JSON.parse(j.stdout) as Array<{ id: string }>).map((x) => x.id)).toEqual(['to-2']);
    await cluster!.client.cancel('to-1');
  });

  it('an id with no task among finished ones: --json stdout is still one closed array, and the error one line', async () => {
    await cluster!.client.submit({ type: 'echo', id: 'nf-1', payload: 'one' });
    await waitFor(async () => (await state('nf-1')) === 'succeeded', { message: 'nf-1 succeeded' });
    const r = await runCli(['wait', 'nf-1', 'nf-missing', '--json', ...g]);
    expect(r.code).toBe(EXIT.notFound);
    const arr = JSON.parse(r.stdout) as Array<{ id: string }>; // closed, whatever it holds
    expect(Array.isArray(arr)).toBe(true);
    expect(arr.every((x) => x.id === 'nf-1')).toBe(true);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nf-missing/);
  });

  it('Ctrl-C prints what finished behind an unfinished first task (text and --json), and the hint names the unfinished one', async () => {
    await cluster!.client.submit({ type: 'sleep', id: 'ci-0', payload: { ms: 60_000 } });
    const rest = Array.from({ length: 9 }, (_, i) => `ci-${i + 1}`);
    for (const id of rest) await cluster!.client.submit({ type: 'echo', id, payload: id });
    await cluster!.client.waitMany(rest);
    for (const json of [false, true]) {
      const p = startCli(['wait', 'ci-0', ...rest, ...(json ? ['--json'] : []), ...g]);
      try {
        // The first progress line comes once the interrupt handlers are on.
        await waitFor(() => p.stderr().includes('drover: finished 9/10'), { message: 'wait saw the nine' });
        expect(p.stdout()).toBe(''); // held behind ci-0
        p.child.kill('SIGINT');
        const r = await p.done;
        expect(r.code).toBe(EXIT.interrupted);
        expect(r.stderr).toMatch(/task ci-0 not finished yet: it stays submitted and goes on\. Re-attach with: drover wait ci-0\n$/);
        if (json) expect((JSON.parse(r.stdout) as Array<{ id: string }>).map((x) => x.id)).toEqual(rest);
        else expect(r.stdout).toBe(rest.map((id) => `${id} succeeded: ${JSON.stringify(id)}\n`).join(''));
      } finally {
        p.kill();
      }
    }
    await cluster!.client.cancel('ci-0');
  });
});

describe('progress', () => {
  it('with stderr a pipe: plain lines at each tenth, and --json stdout is JSON alone', async () => {
    const file = tasksFile('pp', 40);
    const r = await runCli(['submit', '--file', file, '--wait', '--json', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toHaveLength(40); // nothing else on stdout
    const lines = r.stderr.trim().split('\n');
    expect(lines).toContain('drover: submitted 40/40');
    expect(lines.at(-1)).toBe('drover: finished 40/40 (40 succeeded, 0 failed)');
    expect(lines.every((l) => /^drover: (submitted|finished) \d+\/40/.test(l))).toBe(true);
    // At most one line per tenth of each phase (and a timed one only after 5 s of silence).
    expect(lines.length).toBeLessThanOrEqual(22);
    const quiet = await runCli(['submit', '--file', file, '--wait', '--no-progress', ...g]);
    expect(quiet.stderr).toBe('');
    const w = await runCli(['wait', ...Array.from({ length: 12 }, (_, i) => `pp-${i}`), '--json', ...g]);
    const wl = w.stderr.trim().split('\n');
    expect(wl[0]).toBe('drover: finished 0/12 (0 succeeded, 0 failed)');
    expect(wl.at(-1)).toBe('drover: finished 12/12 (12 succeeded, 0 failed)');
    expect(wl.length).toBeLessThanOrEqual(11); // the first, and one a tenth
    // Fewer than ten tasks: no progress at all.
    expect((await runCli(['wait', 'pp-0', 'pp-1', ...g])).stderr).toBe('');
  });

  it('with stderr a terminal and stdout not (a real pseudo-terminal, stdout to a file): a cli-progress bar', async () => {
    const file = tasksFile('tty', 20);
    const out = join(tempDir('drover-tty-'), 'out.txt');
    const r = await runInTerminal(['submit', '--file', file, '--wait', ...g], { stdoutFile: out });
    expect(r.code, r.output).toBe(EXIT.ok);
    expect(r.output).toMatch(/finished +\[[\u2588\u2591]+\] 20\/20 20 succeeded, 0 failed/);
    expect(r.output).not.toContain('drover: finished'); // no plain lines beside a bar
    expect(r.output).not.toContain('succeeded: '); // the outcomes went to the file
    expect(readFileSync(out, 'utf8').split('\n')).toContain('tty-19 succeeded: 19');
  });

  it('with stdout and stderr the same terminal: plain lines, no bar, no outcome line sharing a line with progress', async () => {
    const file = tasksFile('tt2', 20);
    const r = await runInTerminal(['submit', '--file', file, '--wait', ...g]);
    expect(r.code, r.output).toBe(EXIT.ok);
    expect(r.output).not.toContain('\x1b'); // no cursor hiding, no wrap-off, no redraw
    const lines = r.output.split(/\r?\n/).filter(Boolean);
    expect(lines.filter((l) => /succeeded: /.test(l))).toHaveLength(20);
    for (const l of lines) expect(l, JSON.stringify(r.output)).toMatch(/^(drover: (submitted|finished) \d+\/20.*|tt2-\d+ succeeded: \d+)$/);
    expect(lines.at(-1)).toBe('drover: finished 20/20 (20 succeeded, 0 failed)');
  });
});
