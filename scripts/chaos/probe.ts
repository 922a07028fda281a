// After the run and the checks on what happened during it: is the cluster whole again? Every
// master process is a candidate and one of them leads, every worker process is registered
// and alive, and every worker still gets work (a worker stuck out of the leader's view would
// pass every check on outcomes: the others would do its share).
import { listCandidates } from '../../shared/zk/election.js';
import type { ChaosCluster } from './cluster.js';
import { readExecutions } from './exec-log.js';
import { sleep, until } from './util.js';

export interface ProbeReport {
  ok: boolean;
  problems: string[];
  leader: string | null;
  /** Probe tasks run per worker slot. */
  perWorker: Record<string, number>;
  ms: number;
}

export async function probe(cluster: ChaosCluster, timeoutMs: number): Promise<ProbeReport> {
  const t0 = Date.now();
  const problems: string[] = [];
  const paths = cluster.client.paths;
  const masters = cluster.masters();
  const workers = cluster.workers();
  const whole = await until(async () => {
    const cands = await listCandidates(cluster.session, paths.election);
    const live = await cluster.liveWorkerPids();
    const leader = await cluster.leaderSlot();
    const mastersIn = masters.every((m) => m.pid !== undefined && cands.some((c) => c.pid === m.pid));
    const workersIn = workers.every((w) => w.pid !== undefined && live.get(w.pid)?.state === 'alive');
    return mastersIn && workersIn && leader ? leader : null;
  }, timeoutMs, 250);
  if (!whole) {
    const cands = await listCandidates(cluster.session, paths.election).catch(() => []);
    const live = await cluster.liveWorkerPids().catch(() => new Map());
    for (const m of masters) if (!cands.some((c) => c.pid === m.pid)) problems.push(`master ${m.name} (pid ${m.pid}) is not a candidate`);
    for (const w of workers) if (live.get(w.pid!)?.state !== 'alive') problems.push(`worker ${w.name} (pid ${w.pid}) is not registered alive`);
    if (!(await cluster.leaderSlot())) problems.push('no master leads');
  }
  // Enough tasks that the least-loaded policy must give every worker some.
  const n = workers.length * cluster.opts.concurrency * 2;
  const before = readExecutions(cluster.execLog).length;
  const inputs = Array.from({ length: n }, (_, i) => ({ type: 'work', id: `probe-${String(i).padStart(3, '0')}`, payload: { value: i, ms: 300 }, maxAttempts: 100 }));
  const perWorker: Record<string, number> = Object.fromEntries(workers.map((w) => [w.name, 0]));
  try {
    await until(() => cluster.client.submitMany(inputs).then(() => true), 30_000, 500);
    const done = await until(async () => {
      const recs = await Promise.all(inputs.map((i) => cluster.client.get(i.id!)));
      return recs.every((r) => r?.state === 'succeeded');
    }, timeoutMs, 250);
    if (!done) problems.push(`probe tasks not all done within ${timeoutMs} ms`);
    await sleep(100);
    for (const e of readExecutions(cluster.execLog).slice(before)) {
      if (e.event !== 'start' || !e.taskId.startsWith('probe-')) continue;
      const w = workers.find((s) => s.pid === e.pid);
      if (w) perWorker[w.name] = (perWorker[w.name] ?? 0) + 1;
    }
    for (const [name, count] of Object.entries(perWorker)) if (count === 0) problems.push(`worker ${name} got no probe task`);
  } catch (err) {
    problems.push(`probe failed: ${(err as Error).message}`);
  }
  return { ok: problems.length === 0, problems, leader: whole?.name ?? null, perWorker, ms: Date.now() - t0 };
}
