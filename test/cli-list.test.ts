// `list` newest first, a page at a time, with the total ("4 of 35"): names decide the page,
// records are read for it only (unless a filter needs them); `status` splits finished tasks
// by outcome, shows each worker's labels and types, and warns about queued tasks no live
// worker can take. Real CLI processes against an in-process cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import type { TaskPage } from '../client/list.js';
import { zkCounters } from '../shared/zk/session.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runCli } from './harness/cli-run.js';
import { waitFor } from './harness/wait-for.js';
import { zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
let g: string[] = [];
let mark = 0;
beforeAll(async () => {
  cluster = await startCluster({ workers: [{ id: 'list-w1', concurrency: 4, labels: { zone: 'a' } }] });
  g = ['--zk', zkConnect(), '--root', cluster.paths.root, '--session-timeout', '2s'];
  const c = cluster.client;
  const ok = await c.submitMany(Array.from({ length: 25 }, (_, i) => ({ type: 'echo', id: `ok-${i}`, payload: i })));
  const bad = await c.submitMany(Array.from({ length: 3 }, (_, i) => ({ type: 'fail', id: `bad-${i}`, payload: { retryable: false } })));
  await c.waitMany([...ok, ...bad].map((r) => r.id));
  // Queued for labels nobody has: two cancelled, four left waiting.
  await c.submitMany(Array.from({ length: 6 }, (_, i) => ({ type: 'echo', id: `gpu-${i}`, labels: { gpu: 'yes' } })));
  await c.cancel('gpu-4');
  await c.cancel('gpu-5');
  await c.submit({ type: 'sleep', id: 'busy', payload: { ms: 60_000 } });
  await waitFor(async () => (await c.get('busy'))?.state === 'running', { message: 'busy running' });
  mark = Date.now();
  await c.submit({ type: 'echo', id: 'late', payload: 'late' });
  await c.wait('late');
});
afterAll(async () => {
  await cluster?.client.cancel('busy').catch(() => undefined);
  await cluster?.stop();
});

const list = async (...args: string[]): Promise<TaskPage> => {
  const r = await runCli(['list', '--json', ...args, ...g]);
  expect(r.code, r.stderr).toBe(EXIT.ok);
  return JSON.parse(r.stdout) as TaskPage;
};

describe('drover list', () => {
  it('newest first: running first, then by finish / queue time; the total of all; records for the page only', async () => {
    const all = await list('--limit', '100');
    expect(all).toMatchObject({ total: 36, exact: true, candidates: 36, offset: 0, limit: 100 });
    expect(all.tasks).toHaveLength(36);
    expect(all.tasks[0]!.id).toBe('busy');
    const finished = all.tasks.filter((t) => t.finishedAt !== undefined);
    expect(finished[0]!.id).toBe('late');
    const times = finished.map((t) => t.finishedAt!);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const page = await list('--limit', '4');
    expect(page.tasks.map((t) => t.id)).toEqual(all.tasks.slice(0, 4).map((t) => t.id));
    // What the page cost in ZooKeeper: the read operations this process sent (zkCounters.reads,
    // a multiRead's items each) while the client listed, in-process. The names cost the same
    // for any page (an empty one past the end reads no record), so a page of 4 costs 4 record
    // reads over that, not 36: the names chose the page. (The cluster is idle meanwhile.)
    const reads = async (o: { limit: number; offset?: number }) => {
      const before = zkCounters.reads;
      const p = await cluster!.client.list(o);
      return { ids: p.tasks.map((t) => t.id), reads: zkCounters.reads - before };
    };
    const names = await reads({ limit: 4, offset: 36 });
    expect(names.ids).toEqual([]);
    const four = await reads({ limit: 4 });
    expect(four.ids).toEqual(page.tasks.map((t) => t.id));
    expect(four.reads - names.reads).toBe(4);
    expect((await reads({ limit: 100 })).reads - names.reads).toBe(36);
    const next = await list('--limit', '4', '--offset', '4');
    expect(next.tasks.map((t) => t.id)).toEqual(all.tasks.slice(4, 8).map((t) => t.id));
  });

  it('says "4 of 36" (and "5-8 of 36" on the next page)', async () => {
    const r = await runCli(['list', '--limit', '4', ...g]);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('4 of 36');
    expect(r.stdout.split('\n')[0]).toMatch(/^busy\tsleep\trunning\t/);
    const r2 = await runCli(['list', '--limit', '4', '--offset', '4', ...g]);
    expect(r2.stdout.trim().split('\n').at(-1)).toBe('5-8 of 36');
    const deep = await runCli(['list', '--offset', '100001', ...g]);
    expect(deep.code).toBe(EXIT.usage);
    expect(deep.stderr).toContain('--offset');
  });

  it('--state, --type and --since', async () => {
    const queued = await list('--state', 'queued');
    expect(queued.tasks.map((t) => t.id).sort()).toEqual(['gpu-0', 'gpu-1', 'gpu-2', 'gpu-3']);
    expect(queued).toMatchObject({ total: 4, exact: true, recordsRead: 4 });
    const failed = await list('--state', 'failed');
    expect(failed.tasks.map((t) => t.id).sort()).toEqual(['bad-0', 'bad-1', 'bad-2']);
    // Done names do not say how a task ended: every finished record was read, so exact.
    expect(failed).toMatchObject({ total: 3, exact: true, candidates: 31 });
    const sleeps = await list('--type', 'sleep');
    expect(sleeps.tasks.map((t) => t.id)).toEqual(['busy']);
    const one = await list('--state', 'succeeded', '--limit', '2');
    expect(one.tasks).toHaveLength(2);
    expect(one.exact).toBe(false); // stopped reading once the page was full
    expect(one.total).toBeGreaterThanOrEqual(2);
    const recent = await list('--since', new Date(mark).toISOString());
    expect(recent.tasks.map((t) => t.id)).toEqual(['busy', 'late']);
    const text = await runCli(['list', '--state', 'succeeded', '--limit', '2', ...g]);
    expect(text.stdout.trim().split('\n').at(-1)).toMatch(/^2 of at least \d+ \(20 of 31 records read/);
  });
});

describe('drover status', () => {
  it('splits finished tasks, shows labels and types, and warns about tasks no worker can take', async () => {
    const r = await runCli(['status', '--json', ...g]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const s = JSON.parse(r.stdout);
    expect(s.finished).toBe(31);
    expect(s.finishedBy).toEqual({ succeeded: 26, failed: 3, cancelled: 2, sample: { read: 31, of: 31 } });
    expect(s.workers[0]).toMatchObject({ id: 'list-w1', labels: { zone: 'a' }, load: 1 });
    expect(s.workers[0].types).toEqual(expect.arrayContaining(['echo', 'fail', 'sleep']));
    expect(s.queue.depth).toBe(4);
    expect(s.waiting).toEqual([expect.objectContaining({ type: 'echo', labels: { gpu: 'yes' }, count: 4 })]);
    const text = await runCli(['status', ...g]);
    expect(text.stdout).toContain('finished:    31 (26 succeeded, 3 failed, 2 cancelled; kept until the retention)');
    expect(text.stdout).toMatch(/ {2}list-w1\talive\tload 1\/4\tlabels zone=a\ttypes [a-z,]*echo[a-z,]*\t/);
    expect(text.stdout).toMatch(/waiting: +4 queued tasks no live worker can take\n/);
    expect(text.stderr).toMatch(/^drover: warning: 4 queued tasks no live worker can take \(echo: .*gpu=yes.*\)\n$/);
  });
});
