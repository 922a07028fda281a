// One chaos run: start the cluster, stream submissions, inject a seeded schedule of faults
// for `seconds`, then stop injecting, repair everything and hand over to the checker.
// Every process and server it started is stopped at the end, on failure too (and abort()
// stops them from outside, e.g. from a test's afterAll).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ROOT } from '../../shared/defaults.js';
import { ChaosCluster } from './cluster.js';
import { DagPlan } from './dag-traffic.js';
import { ScheduleTraffic } from './schedule-traffic.js';
import { checkWorkflows, type DagReport, type ScheduleReport } from './workflow-checks.js';
import { check, type CheckReport } from './checker.js';
import { running } from './fault-kit.js';
import { inject, pickWeighted, type FaultContext } from './faults.js';
import { probe, type ProbeReport } from './probe.js';
import { Rng } from './prng.js';
import { CHAOS_LABELS, Submitter } from './submitter.js';
import { FAULT_KINDS, Timeline, type FaultKind } from './timeline.js';
import { repoRoot, sleep } from './util.js';

export interface ChaosOptions {
  tasks: number;
  /** Length of the fault phase. */
  seconds: number;
  seed: number;
  /** Logs and the execution log. Default .drover/chaos/<seed>/ (emptied first). */
  dir?: string;
  sessionTimeoutMs?: number;
  tickTimeMs?: number;
  masters?: number;
  workers?: number;
  concurrency?: number;
  /** Handler sleep range per task, ms. Default [20, 300]. */
  taskMs?: [number, number];
  /** Share of tasks that outlast the outages with maxAttempts 1. Default 0.03. */
  outlastChance?: number;
  /** Pause between faults, ms. Default [1000, 3000]. */
  gapMs?: [number, number];
  /** Every kind once (in a seeded order, even past `seconds`) before weighted random picks. Default true. */
  everyKindFirst?: boolean;
  /** A second fault schedule at the same time (faults overlap). Default false. */
  overlap?: boolean;
  /** Share of the tasks in small DAGs (dag-traffic.ts). Default 0.2. */
  dagShare?: number;
  /** Per-second schedules through the fault phase (schedule-traffic.ts). Default true. */
  schedules?: boolean;
  /** How long the checker waits for all tasks to finish. Default 120 s. */
  settleTimeoutMs?: number;
  say?: (line: string) => void;
}

export interface ChaosReport extends CheckReport {
  seed: number;
  seconds: number;
  dir: string;
  durationMs: number;
  faultsInjected: number;
  schedule: FaultKind[];
  submissions: { single: number; bulk: number; errorsRetried: number; errorKinds: Record<string, number> };
  /** After the checks: the cluster is whole and every worker gets work. */
  end: ProbeReport;
  dag: DagReport;
  schedules: ScheduleReport;
}

export class ChaosRun {
  readonly dir: string;
  private cluster?: ChaosCluster;
  private submitter?: Submitter;
  private aborted = false;

  constructor(readonly opts: ChaosOptions) {
    this.dir = opts.dir ?? join(repoRoot(), '.drover', 'chaos', String(opts.seed));
  }

  async run(): Promise<ChaosReport> {
    const o = this.opts;
    const say = o.say ?? ((l: string) => process.stderr.write(l + '\n'));
    const sessionTimeoutMs = o.sessionTimeoutMs ?? 2000;
    const t0 = Date.now();
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    const timeline = new Timeline(join(this.dir, 'timeline.jsonl'), say);
    const rng = new Rng(o.seed);
    const faultRng = rng.fork(1);
    timeline.note(`seed ${o.seed}: ${o.tasks} tasks, ${o.seconds} s of faults; logs in ${this.dir}`);
    try {
      this.cluster = await ChaosCluster.start({
        dir: this.dir,
        masters: o.masters ?? 3,
        workers: o.workers ?? 4,
        concurrency: o.concurrency ?? 4,
        sessionTimeoutMs,
        tickTimeMs: o.tickTimeMs ?? 200,
        graceMs: 2000,
        firstWorkerLabels: CHAOS_LABELS,
        root: DEFAULT_ROOT,
        timeline,
        say,
      });
      const cluster = this.cluster;
      timeline.note(`cluster up: ensemble ${cluster.ensemble.connectString}, ${cluster.slots.map((s) => `${s.name}=${s.pid}`).join(' ')}`);
      const dag = new DagPlan(Math.round(o.tasks * (o.dagShare ?? 0.2)));
      const scheduleTraffic = o.schedules === false ? undefined : new ScheduleTraffic(cluster.client.schedules, say);
      await scheduleTraffic?.start();
      timeline.note(`workflows: ${dag.taskCount} tasks in ${dag.units.length} DAGs; schedules ${scheduleTraffic?.active.map((s) => `${s.name} (${s.spec.cron})`).join(', ') || 'none'}`);
      const submitter = new Submitter(cluster.client, rng.fork(2), {
        total: o.tasks,
        spreadMs: o.seconds * 1000,
        taskMs: o.taskMs ?? [20, 300],
        bulkChance: 0.2,
        // A few tasks outlast the outages with one attempt; a quarter have a single worker.
        outlastChance: o.outlastChance ?? 0.03,
        outlastMs: [8000, 12_000],
        labelledChance: 0.25,
        dag,
      });
      this.submitter = submitter;
      submitter.start();

      // The fault phase.
      const ctx: FaultContext = { cluster, rng: faultRng, timeline, sessionTimeoutMs };
      const [gapLo, gapHi] = o.gapMs ?? [1000, 3000];
      const firstRound = o.everyKindFirst === false ? [] : faultRng.shuffle(FAULT_KINDS);
      const schedule: FaultKind[] = [];
      const faultsEnd = t0 + o.seconds * 1000;
      const loop = async (rng: Rng, first: FaultKind[]) => {
        await sleep(rng.int(gapLo, gapHi));
        // The first round always completes, so a short run still has every kind once.
        while ((Date.now() < faultsEnd || first.length > 0) && !this.aborted) {
          const kind = first.shift() ?? pickWeighted(rng);
          schedule.push(kind);
          // Keep tasks flowing through every fault, to the end of the phase and through a
          // first round that runs past it (a failpoint fires only on work): ~6 s a fault left.
          submitter.extendUntil(Math.max(faultsEnd, Date.now() + 8000 + first.length * 6000));
          // A worker the last fault restarted may still be starting: cut off or frozen before it
          // has registered, its start fails and it exits by itself. Faults take started ones.
          await Promise.all(running(cluster.workers()).map((w) => cluster.waitWorkerAlive(w, 20_000)));
          await inject(kind, { ...ctx, rng });
          await sleep(rng.int(gapLo, gapHi));
        }
      };
      // With `overlap`, a second schedule runs at the same time: faults pile on each other.
      await Promise.all([loop(faultRng, firstRound), o.overlap ? loop(rng.fork(3), []) : undefined]);

      // Settle: no more faults; everything repaired; every submission acknowledged.
      timeline.note('faults over: healing proxies, restarting what is down');
      submitter.finishWithin(3000);
      await cluster.restoreAll();
      await scheduleTraffic?.stop();
      timeline.note('schedules paused: their cursors are final');
      const subDeadline = Date.now() + 120_000;
      while (submitter.acked.size + submitter.pending.size < o.tasks || submitter.pending.size > 0) {
        if (Date.now() > subDeadline || this.aborted) break;
        await sleep(200);
      }
      submitter.stop();
      await submitter.finished();
      timeline.note(`submissions done: ${submitter.acked.size} acknowledged, ${submitter.errors} error(s) retried`);

      const report = await check({
        session: cluster.session,
        paths: cluster.client.paths,
        acked: submitter.acked,
        firstTriedAt: submitter.firstTriedAt,
        unacked: [...submitter.pending],
        mix: submitter.mix,
        expectedFailures: dag.expectedFailures(),
        execLog: cluster.execLog,
        logDir: this.dir,
        timeline,
        settleTimeoutMs: o.settleTimeoutMs ?? 120_000,
        say,
      });
      const wf = await checkWorkflows({
        session: cluster.session,
        paths: cluster.client.paths,
        execLog: cluster.execLog,
        dag,
        ...(scheduleTraffic ? { schedules: scheduleTraffic } : {}),
        scheduleApi: cluster.client.schedules,
        settleTimeoutMs: 30_000,
        say,
      });
      if (wf.failures.length) {
        report.failures.push(...wf.failures);
        report.pass = false;
      }
      timeline.note('checking that the cluster is whole and every worker gets work');
      const end = await probe(cluster, 30_000);
      if (!end.ok) {
        report.failures.push(...end.problems.map((p) => `at the end: ${p}`));
        report.pass = false;
      }
      const full: ChaosReport = {
        ...report,
        end,
        dag: wf.dag,
        schedules: wf.schedules,
        seed: o.seed,
        seconds: o.seconds,
        dir: this.dir,
        durationMs: Date.now() - t0,
        faultsInjected: timeline.faults.length,
        schedule,
        submissions: { single: submitter.calls.single, bulk: submitter.calls.bulk, errorsRetried: submitter.errors, errorKinds: submitter.errorKinds },
      };
      writeFileSync(join(this.dir, 'report.json'), JSON.stringify(full, null, 2));
      return full;
    } finally {
      this.submitter?.stop();
      await this.cluster?.stop().catch((err) => say(`[chaos] cleanup failed: ${(err as Error).message}`));
      this.cluster = undefined;
    }
  }

  /** Stops injecting and stops every process and server (safe to call at any time). */
  async abort(): Promise<void> {
    this.aborted = true;
    this.submitter?.stop();
    const c = this.cluster;
    this.cluster = undefined;
    await c?.stop();
  }
}
