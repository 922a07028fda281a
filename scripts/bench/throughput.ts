// Throughput, the requests it costs, and start latency, on one cluster: 1 leader + 1 follower
// master, 2 workers × 64 slots, each a separate process; the submitter is the bench process.
import { diffCounts, type ZkCounts } from './counters.js';
import type { BenchCluster } from './cluster.js';
import type { Line } from './procs.js';
import { now } from './zk-probe.js';
import { percentile } from './stats.js';

export interface ThroughputRun {
  tasksPerS: number;
  submitPerS: number;
  /** zkCounters of every process (null when the tree has none). */
  requestsPerTask: number | null;
  opsPerTask: number | null;
  /** The server's packets received, less the observers', the bench's mntr and at most `pingBound` pings. */
  serverRequestsPerTask: number | null;
  pingBoundPerTask: number;
  byKind: Record<string, number> | null;
}

/** Waits (watch-driven) until every id has a done entry; resolves with the time of the last. */
function allDone(c: BenchCluster, ids: string[], timeoutMs: number): Promise<number> {
  const left = new Set(ids);
  let last = 0;
  const off = c.onDone((id, t) => {
    if (left.delete(id)) last = t;
  });
  return c.until(() => left.size === 0 && last, timeoutMs, () => `${ids.length} outcomes (${left.size} still missing)`).finally(off);
}

export async function throughputRun(c: BenchCluster, run: number, n: number): Promise<ThroughputRun> {
  const ids = Array.from({ length: n }, (_, i) => `tp${run}-${i}`);
  const inputs = ids.map((id, i) => ({ type: 'echo', id, payload: { i } }));
  const zk = c.o.zk;
  const counts0 = await c.counters();
  const m0 = await zk.mntr();
  const probe0 = c.probePackets;
  const mntr0 = zk.mntrCalls;

  const finished = allDone(c, ids, 300_000);
  finished.catch(() => undefined); // awaited below; not if the submit throws
  const t0 = now();
  const submitMs = await c.submit(inputs);
  const tLast = await finished;
  const elapsedS = (now() - t0) / 1000;

  const m1 = await zk.mntr();
  const counts1 = await c.counters();
  const delta: ZkCounts | null = counts0 && counts1 ? diffCounts(counts0, counts1) : null;
  // Sessions: the bench's client, 2 masters, 2 workers. The library pings only when idle for
  // a third of the timeout, so this is an upper bound of the pings in the server's count.
  const sessions = 1 + c.masters.filter((m) => m.alive).length + c.workers.filter((w) => w.alive).length;
  const pingBound = (sessions * elapsedS * 1000) / (c.o.sessionTimeoutMs / 3);
  const serverPackets =
    m0 && m1 ? m1.zk_packets_received! - m0.zk_packets_received! - (c.probePackets - probe0) - (zk.mntrCalls - mntr0 - 1) : null;
  return {
    tasksPerS: n / ((tLast - t0) / 1000),
    submitPerS: n / (submitMs / 1000),
    requestsPerTask: delta ? delta.requests / n : null,
    opsPerTask: delta ? delta.ops / n : null,
    serverRequestsPerTask: serverPackets === null ? null : serverPackets / n,
    pingBoundPerTask: pingBound / n,
    byKind: delta ? Object.fromEntries(Object.entries(delta.byKind).map(([k, v]) => [k, v / n])) : null,
  };
}

export interface LatencyRun {
  startP50: number;
  startP99: number;
  outcomeP50: number;
  outcomeP99: number;
}

/**
 * One task at a time on the idle cluster: submit → its handler's start (the handler prints
 * its clock; same machine), and submit → its done entry seen by the observer. The next task
 * goes once the last one's outcome is seen, so the cluster is idle at every submit.
 */
export async function latencyRun(c: BenchCluster, run: number, samples: number): Promise<LatencyRun> {
  const starts: number[] = [];
  const outcomes: number[] = [];
  for (let i = 0; i < samples; i++) {
    const id = `lat${run}-${i}`;
    const from = c.workers.map((w) => w.lines.length);
    const done = allDone(c, [id], 30_000);
    done.catch(() => undefined); // awaited below; not if the submit throws
    const t0 = now();
    await c.client.submit({ type: 'mark', id, payload: {} });
    const tDone = await done;
    // Its stdout line is almost always read before the observer's notification; if not, wait (bounded).
    const isStart = (l: Line) => l.ev === 'start' && l.id === id;
    const seen = c.workers.flatMap((w, k) => w.lines.slice(from[k]).filter(isStart));
    const started =
      seen[0] ??
      (await Promise.any(c.workers.map((w, k) => w.waitLine(isStart, 5000, `start of ${id}`, from[k]))).catch(() => {
        throw new Error(`bench: task ${id} finished but no worker said it started`);
      }));
    starts.push(started.t - t0);
    outcomes.push(tDone - t0);
  }
  return {
    startP50: percentile(starts, 50),
    startP99: percentile(starts, 99),
    outcomeP50: percentile(outcomes, 50),
    outcomeP99: percentile(outcomes, 99),
  };
}
