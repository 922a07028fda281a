// The workflow invariants of a chaos run, from the task records in ZooKeeper and the execution
// log (after the main checker, so the tasks have settled):
//   DAGs       no dependent assigned or started before every parent's outcome was final
//              (also with onParentFailure 'run'); every task ended as its plan says: a child of
//              succeeded parents ran (none left waiting), a child of a failed parent (policy
//              'fail') ended failed/dependency-failed and never ran; no task released twice.
//   schedules  the occurrences are every cron time in (createdAt, cursor], none skipped
//              (catch-up; `skipped` 0), none outside it, each succeeded and no attempt run twice.
// "Released twice" / "run twice": an attempt number started more than once, an attempt started
// past the record's count, or more than one start of a task that succeeded on attempt 1.
import type { ScheduleApi } from '../../client/schedules.js';
import type { Paths } from '../../shared/protocol/paths.js';
import { cronOf, nextOccurrence, occurrenceId } from '../../shared/protocol/schedule.js';
import { MISFIRE_GRACE_MS } from '../../shared/protocol/schedule-plan.js';
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import { isTerminal } from '../../shared/protocol/task-state.js';
import { readTask } from '../../shared/protocol/task-store.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { doneEntries, settle } from './check-read.js';
import type { DagPlan } from './dag-traffic.js';
import { readExecutions, type ExecResult, type Execution } from './exec-log.js';
import type { ScheduleTraffic } from './schedule-traffic.js';

export interface WorkflowInput {
  session: ZkSession;
  paths: Paths;
  execLog: string;
  dag?: DagPlan;
  schedules?: ScheduleTraffic;
  scheduleApi: ScheduleApi;
  settleTimeoutMs: number;
  say: (line: string) => void;
}

export interface DagReport {
  graphs: number;
  tasks: number;
  /** How the plan says they must end. */
  planned: Record<string, number>;
  /** How the tasks ended: succeeded, failed (on their own), dependency-failed, other. */
  ended: Record<string, number>;
  /** Children of a failed parent that ran anyway (onParentFailure 'run'). */
  ranAfterFailedParent: number;
  releasedEarly: string[];
  wrongEnd: string[];
  ranDespiteFailedParent: string[];
  releasedTwice: string[];
  violations: number;
}

export interface ScheduleReport {
  /** caughtUp: occurrences submitted later than MISFIRE_GRACE_MS after their time (a leaderless spell), the latest by maxLateMs. */
  schedules: Array<{ name: string; occurrences: number; cursor: number; skipped: number; succeeded: number; caughtUp: number; maxLateMs: number }>;
  missing: string[];
  extra: string[];
  skipped: string[];
  notSucceeded: string[];
  ranTwice: string[];
  problems: string[];
  violations: number;
}

export interface WorkflowReport {
  dag: DagReport;
  schedules: ScheduleReport;
  failures: string[];
}

type Starts = Map<string, Execution[]>;

function startsByTask(file: string): Starts {
  const out: Starts = new Map();
  for (const e of readExecutions(file)) {
    if (e.event !== 'start') continue;
    const l = out.get(e.taskId) ?? [];
    l.push(e);
    out.set(e.taskId, l);
  }
  return out;
}

/** Runs beyond what the record's attempts allow (null: none). */
function ranTooOften(id: string, r: TaskRecord, starts: Execution[]): string | null {
  const per = new Map<number, number>();
  for (const s of starts) per.set(s.attempt, (per.get(s.attempt) ?? 0) + 1);
  for (const [a, n] of per) if (n > 1) return `${id}: attempt ${a} started ${n} times`;
  const over = starts.find((s) => s.attempt > r.attempt);
  if (over) return `${id}: attempt ${over.attempt} started, its record counts ${r.attempt}`;
  if (r.state === 'succeeded' && r.attempt === 1 && starts.length !== 1) return `${id}: succeeded on attempt 1, started ${starts.length} times`;
  return null;
}

/** The earliest the task was handed out or run: exec log, record and its attempt history. */
function firstTaken(r: TaskRecord, starts: Execution[]): number | null {
  const times = [...starts.map((s) => s.at), r.assignedAt, r.startedAt, ...(r.history ?? []).flatMap((h) => [h.assignedAt, h.startedAt])];
  const ok = times.filter((t): t is number => typeof t === 'number');
  return ok.length ? Math.min(...ok) : null;
}

function endOf(r: TaskRecord | null | undefined): string {
  if (!r) return 'missing';
  if (r.state === 'failed' && r.error?.kind === 'dependency-failed') return 'dependency-failed';
  return r.state;
}

async function checkDag(input: WorkflowInput, plan: DagPlan, starts: Starts): Promise<DagReport> {
  const ids = [...plan.nodes.keys()];
  const { records } = await settle(input, ids);
  const planned: Record<string, number> = {};
  for (const n of plan.nodes.values()) planned[n.expect] = (planned[n.expect] ?? 0) + 1;
  const rep: DagReport = { graphs: plan.units.length, tasks: ids.length, planned, ended: {}, ranAfterFailedParent: 0, releasedEarly: [], wrongEnd: [], ranDespiteFailedParent: [], releasedTwice: [], violations: 0 };
  for (const n of plan.nodes.values()) {
    const r = records.get(n.id);
    const end = endOf(r);
    rep.ended[end] = (rep.ended[end] ?? 0) + 1;
    if (end !== n.expect) rep.wrongEnd.push(`${n.id}: ${end}${r?.error ? ` (${r.error.kind}: ${r.error.message})` : ''}, expected ${n.expect}${r && !isTerminal(r.state) ? ' (left ' + r.state + ')' : ''}`);
    if (!r) continue;
    const s = starts.get(n.id) ?? [];
    if (n.expect === 'dependency-failed' && s.length > 0) rep.ranDespiteFailedParent.push(`${n.id}: ${s.length} run(s) though a parent failed`);
    const twice = ranTooOften(n.id, r, s);
    if (twice) rep.releasedTwice.push(twice);
    const taken = firstTaken(r, s);
    if (taken !== null) {
      for (const p of n.parents) {
        const pr = records.get(p);
        const final = pr && isTerminal(pr.state) ? pr.finishedAt : undefined;
        if (final === undefined) rep.releasedEarly.push(`${n.id}: taken at ${taken}, parent ${p} not finished (${pr?.state ?? 'missing'})`);
        else if (taken < final) rep.releasedEarly.push(`${n.id}: taken ${final - taken} ms before parent ${p} finished (${pr!.state})`);
      }
    }
    if (n.policy === 'run' && s.length > 0 && n.parents.some((p) => plan.nodes.get(p)!.expect !== 'succeeded')) rep.ranAfterFailedParent += 1;
  }
  rep.violations = rep.releasedEarly.length + rep.wrongEnd.length + rep.ranDespiteFailedParent.length + rep.releasedTwice.length;
  return rep;
}

async function checkSchedules(input: WorkflowInput, traffic: ScheduleTraffic, starts: Starts): Promise<ScheduleReport> {
  const rep: ScheduleReport = { schedules: [], missing: [], extra: [], skipped: [], notSucceeded: [], ranTwice: [], problems: [...traffic.problems], violations: 0 };
  const done = await doneEntries(input.session, input.paths);
  for (const cs of traffic.active) {
    const s = await input.scheduleApi.get(cs.name).catch((err: Error) => {
      rep.problems.push(`schedule ${cs.name} cannot be read: ${err.message}`);
      return undefined;
    });
    if (s === undefined) continue;
    if (s === null) {
      rep.problems.push(`schedule ${cs.name} is gone`);
      continue;
    }
    if (!s.paused) rep.problems.push(`schedule ${cs.name} is not paused: its cursor is not final`);
    if (s.skipped !== 0) rep.skipped.push(`${cs.name}: ${s.skipped} occurrence(s) skipped under catch-up`);
    // Every cron time in (createdAt, cursor]: an unbroken run from the first to the cursor.
    const c = cronOf(s.cron, s.tz);
    const times: number[] = [];
    for (let t = nextOccurrence(c, s.createdAt); t !== null && t <= s.cursor && times.length < 100_000; t = nextOccurrence(c, t)) times.push(t);
    const expected = times.map((t) => occurrenceId(cs.name, t));
    const { records } = await settle(input, expected);
    let succeeded = 0;
    let caughtUp = 0;
    let maxLateMs = 0;
    for (const [k, id] of expected.entries()) {
      const r = records.get(id);
      if (!r) {
        rep.missing.push(`${id}: no task (skipped)`);
        continue;
      }
      const late = r.createdAt - times[k]!;
      if (late > MISFIRE_GRACE_MS) caughtUp += 1;
      maxLateMs = Math.max(maxLateMs, late);
      const res = r.result as ExecResult | null | undefined;
      if (r.state === 'succeeded' && res?.taskId === id && res.value === cs.value && res.double === cs.value * 2) succeeded += 1;
      else rep.notSucceeded.push(`${id}: ${endOf(r)}${r.error ? ` (${r.error.kind}: ${r.error.message})` : ''}${r.state === 'succeeded' ? ` with result ${JSON.stringify(res)}` : ''}`);
      const twice = ranTooOften(id, r, starts.get(id) ?? []);
      if (twice) rep.ranTwice.push(twice);
    }
    // None outside the run: no done task of the schedule but these, and no next occurrence.
    const want = new Set(expected);
    const prefix = occurrenceId(cs.name, 0).slice(0, -1);
    for (const id of done.keys()) if (id.startsWith(prefix) && !want.has(id)) rep.extra.push(`${id}: an occurrence outside (createdAt, cursor] or off the cron`);
    const after = nextOccurrence(c, s.cursor);
    if (after !== null) {
      const r = await input.session.retrying(() => readTask(input.session, input.paths, occurrenceId(cs.name, after)), 30_000);
      if (r.kind === 'ok') rep.extra.push(`${occurrenceId(cs.name, after)}: submitted past the cursor`);
    }
    rep.schedules.push({ name: cs.name, occurrences: expected.length, cursor: s.cursor, skipped: s.skipped, succeeded, caughtUp, maxLateMs });
  }
  rep.violations = rep.missing.length + rep.extra.length + rep.skipped.length + rep.notSucceeded.length + rep.ranTwice.length + rep.problems.length;
  return rep;
}

const emptyDag = (): DagReport => ({ graphs: 0, tasks: 0, planned: {}, ended: {}, ranAfterFailedParent: 0, releasedEarly: [], wrongEnd: [], ranDespiteFailedParent: [], releasedTwice: [], violations: 0 });

export async function checkWorkflows(input: WorkflowInput): Promise<WorkflowReport> {
  input.say('[check] workflows: DAG and schedule invariants');
  const starts = startsByTask(input.execLog);
  const dag = input.dag ? await checkDag(input, input.dag, starts) : emptyDag();
  const schedules = input.schedules
    ? await checkSchedules(input, input.schedules, starts)
    : { schedules: [], missing: [], extra: [], skipped: [], notSucceeded: [], ranTwice: [], problems: [], violations: 0 };
  const failures: string[] = [];
  const must = (n: number, what: string) => n > 0 && failures.push(`${n} ${what}`);
  must(dag.releasedEarly.length, 'DAG task(s) assigned or started before a parent finished');
  must(dag.wrongEnd.length, 'DAG task(s) ended other than their plan says (left waiting, or a wrong outcome)');
  must(dag.ranDespiteFailedParent.length, 'DAG task(s) ran though a parent failed');
  must(dag.releasedTwice.length, 'DAG task(s) released or run twice');
  must(schedules.missing.length, 'schedule occurrence(s) missing (skipped)');
  must(schedules.extra.length, 'schedule occurrence(s) outside the run');
  must(schedules.skipped.length, 'schedule(s) with skipped occurrences under catch-up');
  must(schedules.notSucceeded.length, 'schedule occurrence(s) not succeeded with the right result');
  must(schedules.ranTwice.length, 'schedule occurrence(s) run twice');
  must(schedules.problems.length, 'schedule problem(s) (add, pause or read)');
  return { dag, schedules, failures };
}
