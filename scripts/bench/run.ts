// The bench's sections in order, on one ZooKeeper: warm-up and ceiling, throughput and
// requests, start latency, failover and handover, take-over with a big queue, then the
// optional --workers and --million sections; the table; the --json line.
import path from 'node:path';
import { BenchCluster } from './cluster.js';
import { ZkCeiling } from './ceiling.js';
import { definitions, JSON_KEYS, type JsonKey } from './definitions.js';
import { leaderChangeRun, takeoverRun } from './failover.js';
import { Backlog } from './backlog.js';
import { dagSection } from './dag.js';
import { manyWorkersSection } from './many-workers.js';
import { millionSection } from './million.js';
import { memoryMb } from './procs.js';
import { startBenchZk, type BenchZk } from './server.js';
import { fmt, median, Report } from './stats.js';
import { latencyRun, throughputRun, type LatencyRun, type ThroughputRun } from './throughput.js';

export interface BenchArgs {
  json: boolean;
  million: boolean;
  drain: boolean;
  workers: number;
  runs: number;
  tasks: number;
  queue: number;
  /** Tasks of the --million section (the JSON keys are given only for 1 000 000). */
  millionTasks: number;
  /** Sections of the default bench to run: ceiling, tasks (throughput, latency, leader changes), takeover. */
  only: ReadonlySet<string>;
}

export const SECTIONS = ['ceiling', 'tasks', 'takeover', 'dag'] as const;

const SESSION_MS = 2000;
const MILLION_SESSION_MS = 4000;
const WORKERS_SESSION_MS = 4000;
const CEILING = { creates: 20_000, inFlight: 500, dataBytes: 200 };

const say = (m: string) => console.log(`[bench] ${m}`);
const nums = <T>(runs: T[], f: (r: T) => number | null) => runs.map(f).filter((x): x is number => x !== null && Number.isFinite(x));

type Setter = (k: JsonKey, v: number) => void;
interface Ctx {
  a: BenchArgs;
  zk: BenchZk;
  report: Report;
  set: Setter;
  out: Record<JsonKey, number | null>;
  logDir: string;
  stamp: string;
}

/** ZooKeeper's own ceiling, after the JVM warm-up (the warm-up always runs: it is for every figure). */
async function ceilingSection({ a, zk, report, set }: Ctx): Promise<void> {
  report.section("ZooKeeper's ceiling (the same server, the same client library)");
  const ceiling = await ZkCeiling.open(zk.connectString);
  try {
    const warm = await ceiling.warmUp(5000, CEILING);
    report.note('JVM warm-up (not measured)', `${fmt(warm)} creates and deletes in 5 s`);
    if (!a.only.has('ceiling')) return;
    const rates: number[] = [];
    for (let r = 0; r < a.runs; r++) rates.push(await ceiling.run(`r${r}`, CEILING));
    set('zk_creates_per_s', report.add(`zk_creates_per_s: ${fmt(CEILING.creates)} creates, ${CEILING.inFlight} in flight`, 'creates/s', rates));
  } finally {
    ceiling.close();
  }
}

/** Throughput, requests, latency, leader changes: one cluster. */
async function tasksSection({ a, zk, report, set, out, logDir, stamp }: Ctx): Promise<void> {
  report.section(`${fmt(a.tasks)} echo tasks: 1 leader + 1 follower, 2 workers × 64, session timeout ${SESSION_MS} ms`);
  const t = await BenchCluster.create({ zk, root: `/bench-t-${stamp}`, sessionTimeoutMs: SESSION_MS, logDir: path.join(logDir, 'main') });
  try {
    await t.startMaster('m1', 'leading');
    await t.startMaster('m2', 'following');
    await Promise.all([t.startWorkers('w1', ['w1'], 64), t.startWorkers('w2', ['w2'], 64)]);
    const tp: ThroughputRun[] = [];
    for (let r = 0; r < a.runs; r++) tp.push(await throughputRun(t, r, a.tasks));
    report.add('submit (submitMany), while the cluster runs them', 'tasks/s', tp.map((r) => r.submitPerS));
    const tps = report.add('tasks_per_s: first submit → last outcome', 'tasks/s', tp.map((r) => r.tasksPerS));
    set('tasks_per_s', tps);
    const ratio = tps / (out.zk_creates_per_s ?? NaN);
    set('ratio', ratio);
    report.note('ratio: tasks_per_s / zk_creates_per_s (of the medians)', fmt(ratio, 3));
    const rpt = nums(tp, (r) => r.requestsPerTask);
    if (rpt.length) set('requests_per_task', report.add('requests_per_task (zkCounters, all processes)', 'req', rpt, { digits: 2 }));
    else report.note('requests_per_task (zkCounters)', 'n/a: shared/zk/session.ts exports no zkCounters in this tree');
    const opt = nums(tp, (r) => r.opsPerTask);
    if (opt.length) set('ops_per_task', report.add('ops_per_task (zkCounters, all processes)', 'ops', opt, { digits: 2 }));
    report.add('server packets per task (pings in; observer, mntr out)', 'pkt', nums(tp, (r) => r.serverRequestsPerTask), {
      digits: 2,
      note: `(pings at most ${fmt(median(tp.map((r) => r.pingBoundPerTask)), 3)} of it)`,
    });
    const kinds = tp[tp.length - 1]!.byKind;
    if (kinds) report.note('requests per task by kind, last run (pings not in the count)', Object.entries(kinds).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ') || 'none');

    const lat: LatencyRun[] = [];
    for (let r = 0; r < a.runs; r++) lat.push(await latencyRun(t, r, 200));
    set('start_p50_ms', report.add('start_p50_ms: submit → handler start, idle, 200 a run', 'ms', lat.map((r) => r.startP50), { digits: 1 }));
    set('start_p99_ms', report.add('start_p99_ms', 'ms', lat.map((r) => r.startP99), { digits: 1 }));
    report.add('submit → outcome seen, p50', 'ms', lat.map((r) => r.outcomeP50), { digits: 1 });
    report.add('submit → outcome seen, p99', 'ms', lat.map((r) => r.outcomeP99), { digits: 1 });
    report.note('RSS after these runs: leader / a worker', `${fmt(memoryMb(t.leader()?.pid ?? -1).rss)} MB / ${fmt(memoryMb(t.workers[0]!.pid).rss)} MB`);

    report.section(`leader changes, tasks flowing (session timeout ${SESSION_MS} ms)`);
    await t.flow();
    const kill = [];
    for (let r = 0; r < a.runs; r++) kill.push(await leaderChangeRun(t, 'SIGKILL', `fk${r}`, 4000));
    set('failover_ms', report.add('failover_ms: kill -9 of the leader → first assignment by the next', 'ms', kill.map((r) => r.totalMs)));
    set('session_timeout_ms', SESSION_MS);
    report.add('  of it: kill -9 → its candidate node gone', 'ms', kill.map((r) => r.detectMs));
    report.add('  of it: candidate gone → first assignment', 'ms', kill.map((r) => r.takeoverMs), { digits: 1 });
    const term = [];
    for (let r = 0; r < a.runs; r++) term.push(await leaderChangeRun(t, 'SIGTERM', `ft${r}`, 4000));
    set('handover_ms', report.add('handover_ms: SIGTERM of the leader → first assignment by the next', 'ms', term.map((r) => r.totalMs), { digits: 1 }));
    report.add('  of it: candidate gone → first assignment', 'ms', term.map((r) => r.takeoverMs), { digits: 1 });
  } finally {
    await t.stop();
  }
}

/** Take-over with a big queue (100 000 by default). */
async function takeoverSection({ a, zk, report, set, logDir, stamp }: Ctx): Promise<void> {
  report.section(`take-over with ${fmt(a.queue)} queued (session timeout ${SESSION_MS} ms)`);
  const q = await BenchCluster.create({ zk, root: `/bench-q-${stamp}`, sessionTimeoutMs: SESSION_MS, logDir: path.join(logDir, 'takeover') });
  try {
    await q.flow();
    await q.startMaster('q1', 'leading');
    await q.startMaster('q2', 'following');
    const backlog = new Backlog(q, 'q');
    report.add(`submit ${fmt(a.queue)} into an idle queue (no worker)`, 'tasks/s', [await backlog.fill(a.queue)]);
    const runs = [];
    for (let r = 0; r < a.runs; r++) {
      runs.push(
        await takeoverRun(q, `tk${r}`, {
          queued: () => backlog.queued(),
          topUp: () => backlog.fill(a.queue).then(() => undefined),
          rssMb: (pid) => memoryMb(pid).rss,
          workerIds: [`tk${r}a`, `tk${r}b`],
          concurrency: 64,
        }),
      );
    }
    const v = report.add(`takeover: ${fmt(a.queue)} queued, candidate gone → first assignment`, 'ms', runs.map((r) => r.takeoverMs), { digits: 1 });
    if (a.queue === 100_000) set('takeover_100k_ms', v);
    report.add("  the next leader's RSS then", 'MB', runs.map((r) => r.leaderRssMb));
    report.note('ZooKeeper now', `${fmt(zk.rssMb())} MB RSS, ${fmt((await zk.mntr())?.zk_znode_count ?? NaN)} znodes`);
  } finally {
    await q.stop();
  }
}

export async function runBench(a: BenchArgs, logDir: string): Promise<void> {
  const out = Object.fromEntries(JSON_KEYS.map((k) => [k, null])) as Record<JsonKey, number | null>;
  const set: Setter = (k, v) => (out[k] = Number.isFinite(v) ? Number(v.toFixed(3)) : null);
  const report = new Report((l) => console.log(l));
  const zk = await startBenchZk({ sizing: a.million ? 'million' : 'bench', tickTimeMs: 200, log: (m) => say(m) });
  const ctx: Ctx = { a, zk, report, set, out, logDir, stamp: Date.now().toString(36) };
  try {
    console.log(`drover bench: ZooKeeper (${zk.kind}, ${zk.sizing}, tickTime ${zk.tickTimeMs} ms) at ${zk.connectString}; node ${process.version}; logs in ${logDir}`);
    for (const l of definitions({ ...a, ...CEILING, sessionTimeoutMs: SESSION_MS })) console.log(l);
    await ceilingSection(ctx);
    if (a.only.has('tasks')) await tasksSection(ctx);
    if (a.only.has('takeover')) await takeoverSection(ctx);
    if (a.only.has('dag')) await dagSection({ zk, report, logDir, stamp: ctx.stamp, runs: a.runs, sessionTimeoutMs: SESSION_MS });
    if (a.workers > 0) {
      report.section(`${fmt(a.workers)} workers, 100 a process, 2 slots each, session timeout ${WORKERS_SESSION_MS} ms`);
      await manyWorkersSection({ zk, report, logDir, workers: a.workers, perProcess: 100, concurrency: 2, cycles: a.runs, phaseMs: 8000, sessionTimeoutMs: WORKERS_SESSION_MS, say });
    }
    if (a.million) {
      report.section(`a million (ZooKeeper ${zk.sizing}; session timeout ${MILLION_SESSION_MS} ms)`);
      const m = await millionSection({ zk, report, logDir, runs: a.runs, total: a.millionTasks, small: 10_000, drain: a.drain, sessionTimeoutMs: MILLION_SESSION_MS, say });
      if (a.millionTasks === 1_000_000) {
        set('dispatch_ratio_1m_vs_10k', m.dispatchRatio);
        set('master_rss_mb_1m', m.masterRssMb);
      }
    }
    const mntr = await zk.mntr();
    // ZooKeeper's pause monitor sleeps 500 ms and records how late it woke: GC, or no CPU.
    if (mntr) report.note(`ZooKeeper JVM pauses (GC or CPU starvation), whole bench${a.million ? ', the forced GC too' : ''}`, `max ${fmt(mntr.zk_max_jvm_pause_time_ms ?? NaN)} ms, p99 ${fmt(mntr.zk_p99_jvm_pause_time_ms ?? NaN)} ms of ${fmt(mntr.zk_cnt_jvm_pause_time_ms ?? NaN)} samples`);
    report.printAll();
    if (a.json) console.log(JSON.stringify(out));
  } finally {
    await zk.stop();
  }
}
