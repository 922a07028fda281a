// The start-rate limit with real processes (2 masters, 1 worker of 8 slots): ratePerSec 5 (burst
// 5) over 30 short tasks, with the leader killed -9 midway and the other master taking over.
// From the records' start times (assignedAt of every attempt): in any 1 s window at most
// burst + R starts, the window right after the takeover included; the new leader starts some;
// every task ends (the limit does not starve). 30 tasks, not 60: 60 at 5/s is 12 s of starts alone.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { readLeader } from '../shared/zk/election.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';

const HANDLERS = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'control-handlers.mjs');
const pool = new SessionPool();
const procs = new ProcessPool();
const clients: DroverClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  await procs.killAll();
  await pool.closeAll();
});

const RATE = 5;
const BURST = 5;
const N = 30;

/** Most starts in any window of `ms` (each start opens one). */
function maxInWindow(starts: readonly number[], ms: number): number {
  const t = [...starts].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[j]! < t[i]! - ms + 1) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('start rate across a leader kill -9', () => {
  it(`ratePerSec ${RATE}: at most burst + R starts in any 1 s, also right after the takeover; all ${N} tasks end`, async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const client = await DroverClient.connect({ session: s, root: paths.root });
    clients.push(client);
    await client.rateLimits.set({ type: 'slow' }, { ratePerSec: RATE, burst: BURST });
    const masters = ['rm1', 'rm2'].map((id) => procs.spawn(id, ['master', '--id', id, ...g]));
    const w = procs.spawn('rw1', ['worker', '--id', 'rw1', '--concurrency', '8', '--handlers', HANDLERS, ...g]);
    const leaderInfo = await waitFor(async () => readLeader(s, paths.election), { message: 'a leader' });
    const victim = masters.find((m) => m.pid === leaderInfo.pid)!;
    const survivor = masters.find((m) => m !== victim)!;
    await survivor.waitForLine((l) => l.msg === 'master following');
    await w.waitForLine((l) => l.msg === 'worker alive');

    const ids = (await client.submitMany(Array.from({ length: N }, (_, i) => ({ type: 'slow', id: `r-${i}`, payload: { ms: 20 } })))).map((x) => x.id);
    // Midway (10 started), the leader dies; the other takes over and goes on.
    await waitFor(async () => (await Promise.all(ids.map((id) => client.get(id)))).filter((r) => r && r.state !== 'queued').length >= 10, { message: '10 started', intervalMs: 100 });
    const killedAt = Date.now();
    victim.kill9();
    const elected = await survivor.waitForLine((l) => l.msg === 'elected leader' && l.time >= killedAt, TEST_SESSION_MS + 8000);
    const ended = await client.waitMany(ids, { timeoutMs: 20_000 });
    expect(ended.every((t) => t.state === 'succeeded')).toBe(true);

    // Every attempt's start (a retried one too), from the records.
    const starts: number[] = [];
    for (const r of ended) {
      const at = new Map<number, number>();
      for (const h of r.history ?? []) if (h.assignedAt !== undefined) at.set(h.attempt, h.assignedAt);
      if (r.assignedAt !== undefined) at.set(r.attempt, r.assignedAt);
      starts.push(...at.values());
    }
    expect(starts.length).toBeGreaterThanOrEqual(N);
    expect(maxInWindow(starts, 1000)).toBeLessThanOrEqual(BURST + RATE);
    // The new leader started some, and within its first 2 s at most burst + 2R.
    const after = starts.filter((t) => t >= elected.time - 50).sort((a, b) => a - b);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((t) => t < after[0]! + 2000).length).toBeLessThanOrEqual(BURST + 2 * RATE);
    // Not starved either: the whole run took no longer than the rate (and the takeover) asks for, with slack.
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(((N - BURST) / RATE) * 1000 + TEST_SESSION_MS + 6000);
  });
});
