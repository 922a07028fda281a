// drover watch as a user runs it (real processes; `npm run build` first): one task's events in
// order, exit once its ids are terminal; --json parseable; an unknown id named, exit not-found.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { ProcessPool } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { DroverClient } from '../client/drover-client.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const procs = new ProcessPool();
let g: string[] = [];
let client: DroverClient;

beforeAll(async () => {
  const s = await pool.open();
  const root = (await freshLayout(s)).root;
  client = await DroverClient.connect({ session: s, root });
  g = ['--zk', zkConnect(), '--root', root, '--session-timeout', String(TEST_SESSION_MS)];
  const m = procs.spawn('m1', ['master', '--id', 'watch-m1', ...g]);
  await m.waitForLine((l) => l.msg === 'elected leader');
});
afterAll(async () => {
  await procs.killAll();
  await pool.closeAll();
});

describe('drover watch', () => {
  it('ID: the events of one task in order, then exits 0 once it is terminal; --json parseable', async () => {
    const { id } = await client.submit({ type: 'sleep', payload: { ms: 300 } });
    const text = procs.spawn('watch-text', ['watch', id, ...g]);
    const json = procs.spawn('watch-json', ['watch', id, '--json', ...g]);
    // The worker starts once both have shown the task queued.
    await waitFor(() => text.text.length > 0 && json.lines.length > 0, { message: 'both watches show the queued task' });
    const w = procs.spawn('w1', ['worker', '--id', 'watch-w1', ...g]);
    await w.waitForLine((l) => l.msg === 'worker alive');
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
});
