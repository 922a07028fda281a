// `submit --file --json` without --wait prints its {id, created} array as --wait --json prints
// outcomes: one element a line (`[{…}`, `,{…}`, …, `]`), so a million tasks are never one
// string; the whole output still parses as the one array. Real CLI processes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli } from './harness/cli-run.js';
import { tempDir } from './harness/temp.js';
import { zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
let g: string[] = [];
beforeAll(async () => {
  cluster = await startCluster({ workers: [{ id: 'sj-w1', concurrency: 4 }] });
  g = ['--zk', zkConnect(), '--root', cluster.paths.root, '--session-timeout', '2s'];
});
afterAll(async () => {
  await cluster?.stop();
});

const N = 500;

describe('drover submit --file --json (no --wait)', () => {
  it('streams the {id, created} array one element a line, the same array as one string would be', async () => {
    const file = join(tempDir('drover-submit-json-'), 'tasks.jsonl');
    const ids = Array.from({ length: N }, (_, i) => `sj-${i}`);
    // Labels no worker has: they stay queued (nothing runs 500 tasks meanwhile).
    writeFileSync(file, ids.map((id, i) => JSON.stringify({ type: 'echo', id, payload: i, labels: { none: 'x' } })).join('\n') + '\n');
    const first = await runCli(['submit', '--file', file, '--json', ...g]);
    expect(first.code, first.stderr).toBe(EXIT.ok);
    expect(JSON.parse(first.stdout)).toEqual(ids.map((id) => ({ id, created: true })));
    const lines = first.stdout.split('\n');
    expect(lines.pop()).toBe(''); // ends with a newline
    expect(lines).toHaveLength(N + 1);
    expect(lines[0]).toBe('[{"id":"sj-0","created":true}');
    expect(lines.slice(1, N)).toEqual(ids.slice(1).map((id) => `,{"id":"${id}","created":true}`));
    expect(lines[N]).toBe(']');
    // Submitted again (same ids): the same shape, nothing created.
    const again = await runCli(['submit', '--file', file, '--json', ...g]);
    expect(again.code, again.stderr).toBe(EXIT.ok);
    expect(again.stdout.split('\n')).toHaveLength(N + 2);
    expect(JSON.parse(again.stdout)).toEqual(ids.map((id) => ({ id, created: false })));
  });

  it('--wait --json prints its outcomes in the same one-element-a-line array', async () => {
    const file = join(tempDir('drover-submit-json-'), 'wait.jsonl');
    writeFileSync(file, ['w-0', 'w-1', 'w-2'].map((id, i) => JSON.stringify({ type: 'echo', id, payload: i })).join('\n') + '\n');
    const r = await runCli(['submit', '--file', file, '--wait', '--json', '--no-progress', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const lines = r.stdout.split('\n');
    expect(lines.map((l) => l.slice(0, 2))).toEqual(['[{', ',{', ',{', ']', '']);
    expect((JSON.parse(r.stdout) as Array<{ id: string; result: unknown }>).map((t) => [t.id, t.result])).toEqual([['w-0', 0], ['w-1', 1], ['w-2', 2]]);
  });

  it('one task (no --file) is still one object', async () => {
    const r = await runCli(['submit', 'echo', '--id', 'sj-one', '--json', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toBe('{"id":"sj-one","created":true}\n');
  });
});
