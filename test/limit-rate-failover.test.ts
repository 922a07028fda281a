// The start-rate limit across a leader change, with real processes (2 masters, 1 worker of 10
// slots): ratePerSec 2, burst 10 (a 5 s window, longer than the handover) over 24 short tasks.
// The leader starts its burst, publishes an empty bucket (leader-status), and is stopped
// gracefully: the other master takes over at once. Its tasks have finished, so the new leader
// sees no start in assign/: only the old leader's published tokens (refilled since) keep it
// from starting a second burst. From the records' start times (assignedAt of every attempt): in
// any 5 s window at most burst + 5·R starts, plus 2 for the old leader's starts after its last
// publish (< 1 token published, stopped within ~0.1 s of it) — without the seeding all 24 start
// within ~3 s; the new leader's first second starts at most the published tokens refilled since
// (a second burst of 10 without them); every task ends (the limit does not starve).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import type { LeaderStatus } from '../master/leader-status.js';
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

const RATE = 2;
const BURST = 10;
const WINDOW_MS = (BURST / RATE) * 1000;
const N = 24;

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

describe('start rate across a leader change', () => {
  it(`ratePerSec ${RATE} burst ${BURST}: the new leader starts no second burst (at most burst + R·w + 2 in any ${WINDOW_MS / 1000} s); all ${N} tasks end`, async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const client = await DroverClient.connect({ session: s, root: paths.root });
    clients.push(client);
    await client.rateLimits.set({ type: 'slow' }, { ratePerSec: RATE, burst: BURST });
    const masters = ['rm1', 'rm2'].map((id) => procs.spawn(id, ['master', '--id', id, ...g]));
    const w = procs.spawn('rw1', ['worker', '--id', 'rw1', '--concurrency', '10', '--handlers', HANDLERS, ...g]);
    const leaderInfo = await waitFor(async () => readLeader(s, paths.election), { message: 'a leader' });
    const old = masters.find((m) => m.pid === leaderInfo.pid)!;
    const survivor = masters.find((m) => m !== old)!;
    await survivor.waitForLine((l) => l.msg === 'master following');
    await w.waitForLine((l) => l.msg === 'worker alive');

    const ids = (await client.submitMany(Array.from({ length: N }, (_, i) => ({ type: 'slow', id: `r-${i}`, payload: { ms: 20 } })))).map((x) => x.id);
    // The burst started (and finished), and the old leader has published its bucket near empty.
    const publishedAt = await waitFor(async () => {
      const { data, stat } = await s.getData(paths.leaderStatus);
      const st = JSON.parse(data.toString('utf8')) as LeaderStatus;
      return st.epoch === leaderInfo.epoch && (st.limits?.[0]?.tokens ?? BURST) < 1 ? stat.mtime : null;
    }, { message: 'the old leader published an empty bucket', intervalMs: 50 });
    const stoppedAt = Date.now();
    old.signal('SIGTERM');
    const elected = await survivor.waitForLine((l) => l.msg === 'elected leader' && l.time >= stoppedAt, TEST_SESSION_MS + 8000);
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
    // The takeover came within the window of the old leader's burst: a second burst would show.
    expect(elected.time - Math.min(...starts)).toBeLessThan(WINDOW_MS - 1000);
    // 22 < N: a second burst (no seeding) puts all N in one window.
    expect(maxInWindow(starts, WINDOW_MS)).toBeLessThanOrEqual(BURST + (RATE * WINDOW_MS) / 1000 + 2);
    // The new leader started some, in its first second no more than the old bucket (< 1 token
    // when published) refilled since, +1 for rounding; not starved either (with slack).
    const byNew = starts.filter((t) => t >= elected.time - 50).sort((a, b) => a - b);
    expect(byNew.length).toBeGreaterThan(0);
    const firstSecond = byNew.filter((t) => t < byNew[0]! + 1000).length;
    expect(firstSecond).toBeLessThanOrEqual(1 + Math.floor((RATE * (byNew[0]! + 1000 - publishedAt)) / 1000) + 1);
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThan(((N - BURST) / RATE) * 1000 + 4000);
  });
});
