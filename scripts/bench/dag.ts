// A 10 000-task DAG against the same 10 000 tasks without dependencies, on one cluster (1
// leader + 1 follower, 2 workers × 64, echo): 1 root → 99 middles → 9 900 leaves (100 per
// middle), so the leader releases 99 children of one finish, then 99 times 100. Each run
// submits with one submitMany (parents first in one call) and times first submit → last
// outcome, after one unmeasured warm-up DAG, the two kinds alternating which goes first;
// requests per task are every process's zkCounters over the run.
import path from 'node:path';
import type { SubmitInput } from '../../shared/protocol/task-record.js';
import { BenchCluster } from './cluster.js';
import { diffCounts } from './counters.js';
import type { BenchZk } from './server.js';
import { fmt, type Report } from './stats.js';
import { now } from './zk-probe.js';

const MIDDLES = 99;
const LEAVES_PER_MIDDLE = 100;
const TASKS = 1 + MIDDLES + MIDDLES * LEAVES_PER_MIDDLE;

export interface DagSectionArgs {
  zk: BenchZk;
  report: Report;
  logDir: string;
  stamp: string;
  runs: number;
  sessionTimeoutMs: number;
}

interface Run {
  ms: number;
  requestsPerTask: number | null;
}

function dagInputs(tag: string): SubmitInput[] {
  const root = `${tag}-root`;
  const out: SubmitInput[] = [{ id: root, type: 'echo', payload: {} }];
  for (let m = 0; m < MIDDLES; m++) out.push({ id: `${tag}-m${m}`, type: 'echo', payload: {}, dependsOn: [root] });
  for (let m = 0; m < MIDDLES; m++) for (let l = 0; l < LEAVES_PER_MIDDLE; l++) out.push({ id: `${tag}-m${m}-l${l}`, type: 'echo', payload: {}, dependsOn: [`${tag}-m${m}`] });
  return out;
}

async function timed(c: BenchCluster, inputs: SubmitInput[]): Promise<Run> {
  const left = new Set(inputs.map((i) => i.id!));
  let last = 0;
  const off = c.onDone((id, t) => {
    if (left.delete(id)) last = t;
  });
  try {
    const counts0 = await c.counters();
    const t0 = now();
    await c.submit(inputs, inputs.length);
    await c.until(() => left.size === 0 && last, 300_000, () => `${inputs.length} outcomes (${left.size} still missing)`);
    const counts1 = await c.counters();
    return { ms: last - t0, requestsPerTask: counts0 && counts1 ? diffCounts(counts0, counts1).requests / inputs.length : null };
  } finally {
    off();
  }
}

export async function dagSection({ zk, report, logDir, stamp, runs, sessionTimeoutMs }: DagSectionArgs): Promise<void> {
  report.section(`a ${fmt(TASKS)}-task DAG (1 → ${MIDDLES} → ${fmt(MIDDLES * LEAVES_PER_MIDDLE)}) against the same tasks without dependencies: 1 leader + 1 follower, 2 workers × 64, echo`);
  const c = await BenchCluster.create({ zk, root: `/bench-dag-${stamp}`, sessionTimeoutMs, logDir: path.join(logDir, 'dag') });
  try {
    await c.startMaster('d1', 'leading');
    await c.startMaster('d2', 'following');
    await Promise.all([c.startWorkers('dw1', ['dw1'], 64), c.startWorkers('dw2', ['dw2'], 64)]);
    const flat: Run[] = [];
    const dag: Run[] = [];
    const flatRun = (tag: string) => timed(c, dagInputs(tag).map(({ dependsOn: _, ...i }) => i));
    // Unmeasured warm-up (the JIT, connections, the dag directories made once), then the two
    // kinds in alternating order, so neither is always the first on a cold cluster.
    await timed(c, dagInputs('warm'));
    for (let r = 0; r < runs; r++) {
      if (r % 2 === 0) {
        flat.push(await flatRun(`f${r}`));
        dag.push(await timed(c, dagInputs(`d${r}`)));
      } else {
        dag.push(await timed(c, dagInputs(`d${r}`)));
        flat.push(await flatRun(`f${r}`));
      }
    }
    report.add(`${fmt(TASKS)} without dependencies: first submit → last outcome`, 'ms', flat.map((r) => r.ms));
    report.add('  tasks/s', 'tasks/s', flat.map((r) => TASKS / (r.ms / 1000)));
    const fr = flat.map((r) => r.requestsPerTask).filter((x): x is number => x !== null);
    if (fr.length) report.add('  requests per task (zkCounters, all processes)', 'req', fr, { digits: 2 });
    report.add(`the DAG: first submit → last outcome`, 'ms', dag.map((r) => r.ms));
    report.add('  tasks/s', 'tasks/s', dag.map((r) => TASKS / (r.ms / 1000)));
    const dr = dag.map((r) => r.requestsPerTask).filter((x): x is number => x !== null);
    if (dr.length) report.add('  requests per task (zkCounters, all processes)', 'req', dr, { digits: 2 });
  } finally {
    await c.stop();
  }
}
