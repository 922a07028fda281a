// The master's /metrics scraped over HTTP from two real `drover master --http 0` processes:
// after a known sequence of tasks the leader's gauges and counters hold the expected counts
// and the follower's say it follows; kill -9 of the leader moves the follower's leader gauges;
// kill -9 of a worker holding tasks makes the new leader's reclaims and lost attempts grow by
// what it held. The workflows' metrics (dependency release, schedules) of an in-process leader
// scraped over HTTP: a diamond with a failing branch, a per-second schedule, a paused one and
// one whose missed occurrences are skipped.
import { afterAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { ProcessPool, type DroverProcess } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';
import { httpUrlOf, parseMetrics, scrape, type Scrape } from './harness/metrics-scrape.js';
import { Master } from '../master/master.js';
import { createMetricsRegistry } from '../shared/metrics/registry.js';
import { baseUrl, metricsRoute, startHttpServer } from '../shared/http/server.js';
import { encodeSchedule, newSchedule, occurrenceId, schedulePath } from '../shared/protocol/schedule.js';
import { NonRetryableError } from '../worker/handlers.js';
import { startCluster } from './harness/cluster.js';
import { submitDag } from './harness/dag-tasks.js';

const pool = new SessionPool();
const procs = new ProcessPool();
const clients: DroverClient[] = [];
afterAll(async () => {
  for (const c of clients) await c.close();
  await procs.killAll();
  await pool.closeAll();
});

const K = 5;

/** Scrapes until `ok` holds (the leader's picture follows events; done counts are cached 10 s). */
async function scrapeUntil(url: string, ok: (s: Scrape) => boolean, message: string): Promise<Scrape> {
  let last: Scrape | undefined;
  try {
    return await waitFor(async () => ((last = await scrape(url)), ok(last) ? last : undefined), { timeoutMs: 15_000, intervalMs: 100, message });
  } catch (err) {
    console.log(`[last scrape] ${[...(last?.samples ?? [])].filter(([k]) => k.startsWith('drover_')).map(([k, v]) => `${k} ${v}`).join('\n')}`);
    throw err;
  }
}

describe('master metrics over HTTP', () => {
  it('leader and follower gauges, counters of assignments and reclaims, and a failover', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const g = ['--zk', zkConnect(), '--root', paths.root, '--session-timeout', String(TEST_SESSION_MS)];
    const master = (id: string) => procs.spawn(id, ['master', '--id', id, '--http', '0', ...g]);
    const worker = (id: string, more: string[]) => procs.spawn(id, ['worker', '--id', id, ...more, ...g]);
    const alive = (p: DroverProcess) => p.waitForLine((l) => l.msg === 'worker alive', 15_000, `${p.name} alive`);

    const m1 = master('mm1');
    const elected = await m1.waitForLine((l) => l.msg === 'elected leader');
    const m2 = master('mm2');
    const following = await m2.waitForLine((l) => l.msg === 'master following');
    expect(following.leader).toBe('mm1');
    const [u1, u2] = await Promise.all([httpUrlOf(m1), httpUrlOf(m2)]);
    const w1 = worker('mw1', ['--concurrency', '4']);
    await alive(w1);

    const client = await DroverClient.connect({ connectString: zkConnect(), root: paths.root });
    clients.push(client);
    // K that run; K no worker can take: 3 asking for labels nobody has (high band), 2 of a type nobody handles (normal band).
    const ran = await client.submitMany(Array.from({ length: K }, (_, i) => ({ type: 'echo', payload: i, id: `ok-${i}` })));
    for (const r of ran) expect((await client.wait(r.id, { timeoutMs: 15_000 })).state).toBe('succeeded');
    await client.submitMany([
      ...Array.from({ length: 3 }, (_, i) => ({ type: 'echo', payload: i, id: `gpu-${i}`, labels: { gpu: 'yes' }, priority: 8000 })),
      ...Array.from({ length: 2 }, (_, i) => ({ type: 'resize', payload: i, id: `resize-${i}`, priority: 5000 })),
    ]);

    const lead = await scrapeUntil(
      u1,
      (x) => x.get('drover_queue_unplaceable_tasks', { reason: 'labels' }) === 3 && x.get('drover_queue_unplaceable_tasks', { reason: 'type' }) === 2,
      'the leader classified the queued tasks',
    );
    expect(lead.get('drover_master_leader')).toBe(1);
    expect(lead.get('drover_master_leader_epoch')).toBe(elected.epoch);
    expect(lead.get('drover_master_leader_changes_total')).toBe(1);
    expect(lead.get('drover_queue_depth', { band: 'high' })).toBe(3);
    expect(lead.get('drover_queue_depth', { band: 'normal' })).toBe(2);
    expect(lead.get('drover_queue_depth', { band: 'low' })).toBe(0);
    expect(lead.get('drover_queue_unplaceable_tasks', { reason: 'no-worker' })).toBe(0);
    expect(lead.get('drover_queue_unclassified_tasks')).toBe(0);
    expect(lead.get('drover_tasks', { state: 'queued' })).toBe(5);
    expect(lead.get('drover_tasks', { state: 'assigned' })).toBe(0);
    expect(lead.get('drover_tasks', { state: 'finished' })).toBe(K);
    expect(lead.get('drover_assignments_total')).toBeGreaterThanOrEqual(K);
    expect(lead.get('drover_workers', { state: 'alive' })).toBe(1);
    expect(lead.get('drover_workers', { state: 'draining' })).toBe(0);
    expect(lead.get('drover_cluster_capacity')).toBe(4);
    expect(lead.get('drover_cluster_load')).toBe(0);
    expect(lead.get('drover_assign_round_duration_seconds_count')).toBeGreaterThan(0);
    expect(lead.get('drover_reclaims_total', { reason: 'worker-gone' })).toBe(0);
    // The session's metrics are in the same registry.
    expect(lead.has('drover_zk_requests_total')).toBe(true);

    // A paused type's tasks wait for the pause, not for a worker: reason="paused" while it holds.
    await client.pause({ type: 'resize' });
    const paused = await scrapeUntil(u1, (x) => x.get('drover_queue_unplaceable_tasks', { reason: 'paused' }) === 2, 'the paused type counted');
    expect(paused.get('drover_queue_unplaceable_tasks', { reason: 'type' })).toBe(0);
    expect(paused.get('drover_queue_unplaceable_tasks', { reason: 'labels' })).toBe(3);
    await client.resume({ type: 'resize' });
    await scrapeUntil(
      u1,
      (x) => x.get('drover_queue_unplaceable_tasks', { reason: 'paused' }) === 0 && x.get('drover_queue_unplaceable_tasks', { reason: 'type' }) === 2,
      'resumed: waiting for its type again',
    );

    const follow = await scrape(u2);
    expect(follow.get('drover_master_leader')).toBe(0);
    expect(follow.get('drover_master_leader_epoch')).toBe(elected.epoch);
    expect(follow.get('drover_master_leader_changes_total')).toBe(1);
    expect(follow.has('drover_queue_depth')).toBe(false);
    expect(follow.has('drover_tasks')).toBe(false);
    expect(follow.get('drover_cluster_capacity')).toBe(0);
    expect(follow.get('drover_assignments_total')).toBe(0);

    // A worker holding 3 long tasks (its own label), then the leader killed.
    const w2 = worker('mw2', ['--concurrency', '3', '--labels', 'pool=b']);
    await alive(w2);
    const held = await client.submitMany(Array.from({ length: 3 }, (_, i) => ({ type: 'sleep', payload: { ms: 60_000 }, id: `held-${i}`, labels: { pool: 'b' } })));
    await waitFor(async () => (await Promise.all(held.map((h) => client.get(h.id)))).every((r) => r?.state === 'running'), { timeoutMs: 15_000, message: 'held tasks running' });
    const before = await scrapeUntil(u1, (x) => x.get('drover_cluster_load') === 3, 'the leader sees 3 held');
    expect(before.get('drover_assignments_total')).toBeGreaterThanOrEqual(K + 3);
    expect(before.get('drover_cluster_capacity')).toBe(7);

    m1.kill9();
    const next = await m2.waitForLine((l) => l.msg === 'elected leader', TEST_SESSION_MS + 10_000);
    expect(next.epoch as number).toBeGreaterThan(elected.epoch as number);
    const took = await scrapeUntil(u2, (x) => x.get('drover_master_leader') === 1 && x.get('drover_cluster_load') === 3, 'the follower leads');
    expect(took.get('drover_master_leader_changes_total')).toBe(2);
    expect(took.get('drover_master_leader_epoch')).toBe(next.epoch);
    expect(took.get('drover_tasks', { state: 'assigned' })).toBe(3);
    expect(took.get('drover_workers', { state: 'alive' })).toBe(2);
    expect(took.get('drover_reclaims_total', { reason: 'worker-gone' })).toBe(0);
    expect(took.get('drover_lost_attempts_total')).toBe(0);

    w2.kill9();
    const after = await scrapeUntil(
      u2,
      (x) => x.get('drover_reclaims_total', { reason: 'worker-gone' }) === 3 && x.get('drover_queue_unplaceable_tasks', { reason: 'labels' }) === 6,
      'the killed worker’s tasks taken back',
    );
    expect(after.get('drover_lost_attempts_total')).toBe(3);
    expect(after.get('drover_reclaims_total', { reason: 'deadline' })).toBe(0);
    expect(after.get('drover_workers', { state: 'alive' })).toBe(1);
    expect(after.get('drover_cluster_load')).toBe(0);
    expect(after.get('drover_tasks', { state: 'queued' })).toBe(8);
    // Unchanged by the failover and the reclaims: the finished count.
    expect(after.get('drover_tasks', { state: 'finished' })).toBe(K);
  }, 60_000);

  it('two masters of one process share a registry: registered once, gauges summed, the epoch the newest known', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const registry = createMetricsRegistry();
    const a = new Master({ connectString: zkConnect(), root: paths.root, id: 'reg-a', sessionTimeoutMs: TEST_SESSION_MS, metrics: registry });
    const b = new Master({ connectString: zkConnect(), root: paths.root, id: 'reg-b', sessionTimeoutMs: TEST_SESSION_MS, metrics: registry });
    try {
      await a.start();
      await waitFor(() => a.isLeader, { message: 'a leads' });
      await b.start();
      await waitFor(() => b.state === 'following', { message: 'b follows' });
      // The follower's scrape-time read of the leader (learning a's epoch again) is done once
      // this scrape is; the next one counts what both learned: one election, one change.
      await registry.metrics();
      const m = parseMetrics(await registry.metrics());
      expect(m.get('drover_master_leader')).toBe(1);
      expect(m.get('drover_master_leader_epoch')).toBe(a.epoch);
      expect(m.get('drover_master_leader_changes_total')).toBe(1);
      expect(m.get('drover_tasks', { state: 'queued' })).toBe(0);
      // Both sessions' requests land in the one registry.
      expect(m.get('drover_zk_connected')).toBe(2);
      await a.stop();
      await waitFor(() => b.isLeader, { message: 'b leads' });
      const after = parseMetrics(await registry.metrics());
      expect(after.get('drover_master_leader')).toBe(1);
      expect(after.get('drover_master_leader_epoch')).toBe(b.epoch);
      expect(after.get('drover_master_leader_changes_total')).toBe(2);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('workflows: dependent tasks waiting and released by outcome, schedules held, occurrences submitted and skipped', async () => {
    const registry = createMetricsRegistry();
    const c = await startCluster({
      master: { metrics: registry },
      workers: [
        {
          id: 'wf-w',
          concurrency: 4,
          handlers: {
            ok: async (p: { ms?: number } | null) => void (p?.ms && (await new Promise((r) => setTimeout(r, p.ms)))),
            boom: async () => {
              throw new NonRetryableError('boom');
            },
          },
        },
      ],
    });
    const http = await startHttpServer({ port: 0, routes: [metricsRoute(registry)] });
    try {
      const url = `${baseUrl(http)}metrics`;
      const tick = await c.client.schedules.add('tick', { cron: '* * * * * *', type: 'ok' });
      await c.client.schedules.add('held', { cron: '* * * * * *', type: 'ok', paused: true });
      // Written 3 years back (a yearly cron): its 3 missed occurrences are skipped, none submitted.
      const yearsAgo = Date.now() - 3 * 365 * 86_400_000;
      await c.admin.create(schedulePath(c.paths, 'late'), encodeSchedule(newSchedule('late', { cron: '0 0 0 1 1 *', tz: 'UTC', type: 'ok', misfire: 'skip' }, yearsAgo)));
      // A diamond whose gate runs 1.5 s (its 3 dependents wait meanwhile); b fails, so d is failed for it.
      await submitDag(c.admin, c.paths, [
        { id: 'wf-a', type: 'ok', payload: { ms: 1500 } },
        { id: 'wf-b', type: 'boom', maxAttempts: 1, dependsOn: ['wf-a'] },
        { id: 'wf-c', type: 'ok', dependsOn: ['wf-a'] },
        { id: 'wf-d', type: 'ok', dependsOn: ['wf-b', 'wf-c'] },
      ]);
      const held = await scrapeUntil(url, (x) => x.get('drover_dag_waiting_tasks') === 3 && x.get('drover_schedules') === 2, '3 waiting, 2 active schedules');
      expect(held.get('drover_dag_releases_total', { outcome: 'queued' })).toBe(0);

      const done = await Promise.all(['wf-a', 'wf-b', 'wf-c', 'wf-d'].map((id) => c.client.wait(id, { timeoutMs: 10_000 })));
      expect(done.map((r) => r!.state)).toEqual(['succeeded', 'failed', 'succeeded', 'failed']);
      const released = await scrapeUntil(url, (x) => x.get('drover_dag_waiting_tasks') === 0, 'none waiting');
      expect(released.get('drover_dag_releases_total', { outcome: 'queued' })).toBe(2);
      expect(released.get('drover_dag_releases_total', { outcome: 'dependency-failed' })).toBe(1);

      // Two occurrences at least, then paused: the counter holds exactly the tasks written.
      await waitFor(async () => ((await c.client.schedules.get('tick'))!.cursor >= Math.ceil((tick.createdAt + 1) / 1000) * 1000 + 1000 ? true : undefined), { timeoutMs: 5000, message: 'two occurrences' });
      const paused = await c.client.schedules.pause('tick');
      const ids: string[] = [];
      for (let t = Math.ceil((tick.createdAt + 1) / 1000) * 1000; t <= paused.cursor; t += 1000) ids.push(occurrenceId('tick', t));
      expect((await Promise.all(ids.map((id) => c.client.get(id)))).every((r) => r !== null)).toBe(true);
      const skipped = (await c.client.schedules.get('late'))!.skipped;
      expect(skipped).toBe(3);
      const fired = await scrapeUntil(
        url,
        (x) => x.get('drover_schedules') === 1 && x.get('drover_schedule_occurrences_total', { outcome: 'submitted' }) === ids.length,
        'paused: 1 active schedule, every tick occurrence counted',
      );
      expect(ids.length).toBeGreaterThanOrEqual(2);
      expect(fired.get('drover_schedule_occurrences_total', { outcome: 'skipped' })).toBe(skipped);
    } finally {
      await http.close();
      await c.stop();
    }
  });
});
