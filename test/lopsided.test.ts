// A lopsided queue: tens of thousands of tasks waiting for labels no worker has must not
// starve the tasks behind them, and the leader must keep its event loop responsive while it
// walks them (a blocked loop delays the session's heartbeats).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueIndex } from '../master/queue-index.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { waitFor } from './harness/wait-for.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const BLOCKED = 25_000;
const BEHIND = 100;

describe('a lopsided queue', () => {
  it(`${BLOCKED} tasks for absent labels do not hold back ${BEHIND} unlabelled ones, and the leader's loop stays responsive`, async () => {
    cluster = await startCluster({ masters: 0 });
    const t0 = Date.now();
    for (let i = 0; i < BLOCKED; i += 5000) {
      await cluster.client.submitMany(Array.from({ length: 5000 }, (_, k) => ({ type: 'echo', id: `gpu-${i + k}`, labels: { gpu: 'yes' } })));
    }
    const submitMs = Date.now() - t0;

    // The leader runs in this process: its event-loop delay is what this histogram sees.
    const lag = monitorEventLoopDelay({ resolution: 10 });
    const ms = (ns: number) => Math.round(ns / 1e6);
    const t1 = Date.now();
    let doneMs: number | undefined;
    lag.enable();
    try {
      await cluster.addMaster();
      await cluster.addWorker({ id: 'cpu1', concurrency: 4 });
      await cluster.addWorker({ id: 'cpu2', concurrency: 4 });
      const behind = await cluster.client.submitMany(Array.from({ length: BEHIND }, (_, k) => ({ type: 'echo', id: `cpu-${k}`, payload: k })));
      // Waits through watches: polling status() would add load of its own.
      const outcomes = await Promise.all(behind.map((r) => cluster!.client.wait(r.id, { timeoutMs: 30_000 })));
      expect(outcomes.every((o) => o.state === 'succeeded')).toBe(true);
      doneMs = Date.now() - t1;
    } finally {
      lag.disable();
      console.log(
        `[measure] submit ${BLOCKED} blocked: ${submitMs} ms; leader start to ${BEHIND} done: ${doneMs ?? `not within ${Date.now() - t1}`} ms; ` +
          `event-loop delay max ${ms(lag.max)} ms, p99 ${ms(lag.percentile(99))} ms, mean ${ms(lag.mean)} ms`,
      );
    }
    const gpu = [{ type: 'echo', labels: { gpu: 'yes' }, count: BLOCKED, reason: 'no worker has labels gpu=yes' }];
    // status says what they wait for: the leader's exact account once it has read them all.
    const s = await waitFor(
      () => cluster!.client.status().then((st) => st.waitingSample.source === 'leader' && st.waitingSample.read === BLOCKED && st),
      { timeoutMs: 15_000, message: "the leader's account of all the blocked tasks" },
    );
    expect(s.finished).toBe(BEHIND);
    expect(s.queue.depth).toBe(BLOCKED); // still waiting, none failed
    expect(s.waiting).toEqual(gpu);
    expect(s.waitingSample).toEqual({ read: BLOCKED, of: BLOCKED, source: 'leader' });
    // Without a leader: estimated from a bounded sample of records.
    for (const m of cluster.masters) await m.stop();
    const sampled = await cluster.client.status();
    expect(sampled.waiting).toEqual(gpu);
    expect(sampled.waitingSample).toMatchObject({ source: 'sample', of: BLOCKED });
    expect(sampled.waitingSample.read).toBeLessThan(BLOCKED);
    // Generous bounds: on a loaded 2-core machine the scheduler alone delays a turn by tens of
    // ms (the figures are printed above; an idle machine shows max ~30-50 ms, p99 ~25 ms).
    expect(ms(lag.max)).toBeLessThan(500);
    expect(ms(lag.percentile(99))).toBeLessThan(100);
  }, 90_000);
});

const TENANTS = 10_000;
const FREE_WORKERS = 200;
const UNLABELLED = 200;
const PROBES = 40;

describe('many classes nobody takes', () => {
  it(`${TENANTS} distinct label sets no worker has, ${FREE_WORKERS} free workers: unlabelled tasks finish promptly and no leader stretch blocks the loop`, async () => {
    cluster = await startCluster({ masters: 0 });
    for (let i = 0; i < TENANTS; i += 2000) {
      await cluster.client.submitMany(Array.from({ length: 2000 }, (_, k) => ({ type: 'echo', id: `tenant-${i + k}`, labels: { tenant: `t${i + k}` } })));
    }
    // The leader runs in this process: time each take() it makes (its pass over the classes).
    let takes: number[] = [];
    const orig = QueueIndex.prototype.take;
    QueueIndex.prototype.take = function (this: QueueIndex, ...args: Parameters<typeof orig>) {
      const t = performance.now();
      try {
        return orig.apply(this, args);
      } finally {
        takes.push(performance.now() - t);
      }
    };
    const lag = monitorEventLoopDelay({ resolution: 1 });
    const ms = (ns: number) => Math.round(ns / 1e6);
    const top = (xs: number[]) => [...xs].sort((a, b) => b - a).slice(0, 5).map((x) => x.toFixed(1)).join(' ');
    let doneMs: number | undefined;
    let busyTakes: number[] = [];
    try {
      await cluster.addMaster();
      // Every one of them idle and free all along: each round sees them all.
      for (let i = 0; i < FREE_WORKERS; i++) await cluster.addWorker({ id: `w${i}`, concurrency: 1 });
      // The leader classifies the tenants' records first (2 000 a round).
      await waitFor(() => cluster!.client.status().then((s) => s.waitingSample.source === 'leader' && s.waitingSample.read === s.waitingSample.of && s.waiting.length > 0), {
        timeoutMs: 30_000,
        message: 'leader classified the tenants',
      });
      const t1 = Date.now();
      const behind = await cluster.client.submitMany(Array.from({ length: UNLABELLED }, (_, k) => ({ type: 'echo', id: `plain-${k}`, payload: k })));
      const outcomes = await Promise.all(behind.map((r) => cluster!.client.wait(r.id, { timeoutMs: 30_000 })));
      expect(outcomes.every((o) => o.state === 'succeeded')).toBe(true);
      doneMs = Date.now() - t1;
      busyTakes = takes;
      takes = [];
      // A quiet stretch (workers idle): one submit at a time for another tenant nobody has,
      // each a round of the leader over the whole set of classes. Its loop delay is the
      // leader's longest synchronous stretch, with little else running in this process.
      lag.enable();
      for (let i = 0; i < PROBES; i++) {
        await cluster.client.submit({ type: 'echo', id: `probe-${i}`, labels: { tenant: `probe-${i}` } });
        await new Promise((r) => setTimeout(r, 25));
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      lag.disable();
      QueueIndex.prototype.take = orig;
      console.log(
        `[measure] ${TENANTS} classes, ${FREE_WORKERS} free workers: ${UNLABELLED} unlabelled done in ${doneMs ?? 'not within the timeout'} ms ` +
          `(take() x${busyTakes.length}, longest ${top(busyTakes)} ms); ${PROBES} probe rounds: take() x${takes.length}, longest ${top(takes)} ms, ` +
          `event-loop delay max ${ms(lag.max)} ms, p99 ${ms(lag.percentile(99))} ms, mean ${ms(lag.mean)} ms`,
      );
    }
    expect(doneMs).toBeLessThan(10_000);
    // Passing over a class nobody free can take costs nothing per class: a take() in the rounds
    // over all the classes is a few microseconds; under load (GC, the scheduler) never near the
    // old pass, which tested every class against every free worker (260-490 ms a take). The
    // bounds leave room for one GC pause or descheduling on a loaded 2-core machine (CI saw a
    // 6 ms probe take and a 73 ms busy one with the whole suite running), still 10× under it.
    expect(Math.max(...takes)).toBeLessThan(25);
    expect(Math.max(...busyTakes)).toBeLessThan(100);
    // The old pass blocked > 100 ms in every one of the probe rounds' takes, so it shows in the
    // p99. The max only bounds one stretch: on a loaded 2-core machine (the whole suite running)
    // a single 103 ms gap was seen while p99 was 7 ms: the process not scheduled, not the leader.
    expect(ms(lag.percentile(99))).toBeLessThan(30);
    expect(ms(lag.max)).toBeLessThan(250);
  }, 180_000);
});
