// After the run: every task must be settled, then ZooKeeper and the execution log are read
// and the guarantees checked:
//   - every acknowledged id exists and is terminal, with exactly one done entry;
//   - it succeeded, with the result the handler computes from its payload (value × 2), made by
//     an execution that really ran as the committed attempt;
//   - no outcome was committed twice (one terminal `committed` line per task in all logs);
//   - every other execution of a task is explained: its commit was fenced, it was aborted
//     (session lost, withdrawn, stopping), or its process was killed or drained meanwhile;
//   - no worker ran more handlers at once than its capacity (start/end lines per pid);
//   - the longest time without a completion while work was pending, and the fault behind it.
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import { isTerminal } from '../../shared/protocol/task-state.js';
import type { Paths } from '../../shared/protocol/paths.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { doneEntries, readProcessLogs, settle } from './check-read.js';
import { execKey, readExecutions, type Execution, type ExecResult } from './exec-log.js';
import { stalls, type Stall } from './stalls.js';
import { FAULT_KINDS, type FaultKind, type Timeline } from './timeline.js';

export { stalls, type Stall } from './stalls.js';

export interface CheckInput {
  session: ZkSession;
  paths: Paths;
  /** Acknowledged ids → the value their payload carries. */
  acked: Map<string, number>;
  /** When the client first tried to submit each id (pending work from then on). */
  firstTriedAt: Map<string, number>;
  /** Ids whose submission was never acknowledged. */
  unacked: string[];
  /** Which share of the traffic each id belongs to (plain, outlast, labelled). */
  mix?: Map<string, string>;
  /** Ids that must end failed (DAG tasks made to fail, and their dependents): workflow-checks.ts judges them. */
  expectedFailures?: Set<string>;
  execLog: string;
  logDir: string;
  timeline: Timeline;
  settleTimeoutMs: number;
  say: (line: string) => void;
}

export interface CheckReport {
  pass: boolean;
  failures: string[];
  tasks: number;
  unacked: string[];
  settleMs: number;
  byState: Record<string, number>;
  lost: string[];
  notTerminal: string[];
  doneEntries: string[];
  wrongOutcome: string[];
  /** Tasks an outage failed: ended failed with an infrastructure kind (worker lost, timeout). */
  outageFailed: string[];
  /** Per share of the traffic: submitted and succeeded. */
  byMix: Record<string, { tasks: number; succeeded: number }>;
  badResult: string[];
  committedTwice: string[];
  executions: number;
  duplicates: number;
  duplicateReasons: Record<string, number>;
  unexplained: string[];
  capacity: { limit: number; maxSeen: number; violations: string[] };
  longestStall: Stall | null;
  faults: Record<FaultKind, { count: number; skipped: number; unverified: number; maxStallMs: number }>;
  unexpectedExits: string[];
  errorsLogged: Record<string, number>;
}

export async function check(input: CheckInput): Promise<CheckReport> {
  const { timeline } = input;
  const ids = [...input.acked.keys()];
  const failures: string[] = [];
  const { records, ms: settleMs } = await settle(input, ids);
  input.say(`[check] settled in ${(settleMs / 1000).toFixed(1)} s; reading done entries, execution log and process logs`);
  const done = await doneEntries(input.session, input.paths);
  const execs = readExecutions(input.execLog);

  // Process logs: fenced commits, terminal and non-terminal commits, errors.
  const { fenced, requeuedBy, terminalCommits, errorsLogged } = readProcessLogs(input.logDir);

  const byState: Record<string, number> = {};
  const lost: string[] = [];
  const notTerminal: string[] = [];
  const doneBad: string[] = [];
  const wrongOutcome: string[] = [];
  const outageFailed: string[] = [];
  const byMix: CheckReport['byMix'] = {};
  const badResult: string[] = [];
  const committedTwice: string[] = [];
  const starts = new Map<string, Execution[]>();
  const ends = new Map<string, Execution>();
  for (const e of execs) {
    if (e.event === 'start') {
      const list = starts.get(e.taskId) ?? [];
      list.push(e);
      starts.set(e.taskId, list);
    } else {
      ends.set(execKey(e.taskId, e.attempt, e.pid), e);
    }
  }
  const killedAt = new Map<number, { at: number; how: string }>();
  for (const end of timeline.ends) if (end.how !== 'exit') killedAt.set(end.pid, { at: end.at, how: end.how });

  let duplicates = 0;
  const duplicateReasons: Record<string, number> = {};
  const unexplained: string[] = [];
  const okRecords: TaskRecord[] = [];
  for (const id of ids) {
    const r = records.get(id);
    if (!r) {
      lost.push(id);
      continue;
    }
    okRecords.push(r);
    byState[r.state] = (byState[r.state] ?? 0) + 1;
    if (!isTerminal(r.state)) notTerminal.push(`${id} (${r.state}, attempt ${r.attempt}, ${r.worker})`);
    if ((done.get(id) ?? 0) !== 1) doneBad.push(`${id}: ${done.get(id) ?? 0} done entries`);
    if ((terminalCommits.get(id) ?? 0) > 1) committedTwice.push(`${id}: ${terminalCommits.get(id)} terminal commits logged`);
    let committed: string | null = null;
    if (r.state === 'succeeded') {
      const res = r.result as ExecResult | null;
      const value = input.acked.get(id)!;
      if (!res || res.taskId !== id || res.attempt !== r.attempt || res.value !== value || res.double !== value * 2) {
        badResult.push(`${id}: ${JSON.stringify(res)} (attempt ${r.attempt}, value ${value})`);
      } else {
        committed = execKey(id, res.attempt, res.pid);
        const end = ends.get(committed);
        if (!end || end.outcome !== 'ok') badResult.push(`${id}: result of attempt ${res.attempt} on pid ${res.pid} has no completed execution`);
      }
    } else if (isTerminal(r.state) && input.expectedFailures?.has(id)) {
      // Made to fail (a timeout with one attempt): that last attempt's run is the one committed.
      const last = (starts.get(id) ?? []).find((s) => s.attempt === r.attempt && ends.get(execKey(id, s.attempt, s.pid))?.abort === 'timeout');
      if (last) committed = execKey(id, last.attempt, last.pid);
    } else if (isTerminal(r.state)) {
      wrongOutcome.push(`${id}: ${r.state} (${r.error?.kind}: ${r.error?.message})`);
      // No handler here fails by itself: a failed task is one the faults failed.
      if (r.state === 'failed') outageFailed.push(`${id} [${input.mix?.get(id) ?? 'plain'}]: ${r.error?.kind} after attempt ${r.attempt} of ${r.maxAttempts}: ${r.error?.message}`);
    }
    const share = input.mix?.get(id) ?? 'plain';
    const m = (byMix[share] ??= { tasks: 0, succeeded: 0 });
    m.tasks += 1;
    if (r.state === 'succeeded') m.succeeded += 1;
    // Every execution other than the committed one must be explained.
    const seen = new Set<string>();
    for (const s of starts.get(id) ?? []) {
      const key = execKey(id, s.attempt, s.pid);
      if (seen.has(key)) {
        unexplained.push(`${key}: the same attempt started twice on one process`);
        continue;
      }
      seen.add(key);
      if (key === committed) continue;
      duplicates += 1;
      const end = ends.get(key);
      const kill = killedAt.get(s.pid);
      let reason: string | null = null;
      if (fenced.has(key)) reason = 'commit fenced';
      else if (end?.outcome === 'aborted') reason = `aborted (${end.abort})`;
      else if (kill && kill.at >= s.at) reason = kill.how === 'sigterm' ? 'process drained' : kill.how === 'failpoint' ? 'process died at a failpoint' : 'process killed';
      else if (requeuedBy.has(key)) reason = 'attempt failed and was retried';
      if (reason) duplicateReasons[reason] = (duplicateReasons[reason] ?? 0) + 1;
      else unexplained.push(`${key}: ran (${end ? `ended ${end.outcome}` : 'no end'}), not committed, not fenced, not aborted, process not killed`);
    }
  }

  // Capacity: handlers running at once per process, from the log's order.
  const running = new Map<number, number>();
  const maxPer = new Map<number, number>();
  for (const e of execs) {
    const n = (running.get(e.pid) ?? 0) + (e.event === 'start' ? 1 : -1);
    running.set(e.pid, n);
    if (n > (maxPer.get(e.pid) ?? 0)) maxPer.set(e.pid, n);
  }
  let limit = 0;
  let maxSeen = 0;
  const violations: string[] = [];
  for (const [pid, max] of maxPer) {
    const cap = timeline.pids.get(pid)?.capacity ?? 0;
    limit = Math.max(limit, cap);
    maxSeen = Math.max(maxSeen, max);
    if (max > cap) violations.push(`pid ${pid} (${timeline.pids.get(pid)?.slot ?? '?'}): ${max} at once, capacity ${cap}`);
  }

  const finished = okRecords.filter((r) => isTerminal(r.state));
  const all = stalls(finished, timeline, (i) => input.firstTriedAt.get(finished[i]!.id));
  const longestStall = all.reduce<Stall | null>((m, s) => (!m || s.ms > m.ms ? s : m), null);
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, { count: 0, skipped: 0, unverified: 0, maxStallMs: 0 }])) as CheckReport['faults'];
  for (const f of timeline.faults) {
    faults[f.kind].count += 1;
    if (f.note === 'skipped') faults[f.kind].skipped += 1;
    if (f.verified === false) faults[f.kind].unverified += 1;
  }
  for (const s of all) if (s.kind) faults[s.kind].maxStallMs = Math.max(faults[s.kind].maxStallMs, s.ms);

  const unexpectedExits = timeline.ends
    .filter((e) => e.how === 'exit')
    .map((e) => `${e.slot} pid ${e.pid} at ${timeline.rel(e.at)}: ${e.signal ?? `code ${e.code}`}`);

  const must = (ok: boolean, what: string) => {
    if (!ok) failures.push(what);
  };
  must(input.unacked.length === 0, `${input.unacked.length} submission(s) never acknowledged`);
  must(lost.length === 0, `${lost.length} task(s) lost`);
  must(notTerminal.length === 0, `${notTerminal.length} task(s) not terminal after ${Math.round(settleMs / 1000)} s`);
  must(doneBad.length === 0, `${doneBad.length} task(s) without exactly one done entry`);
  must(outageFailed.length === 0, `${outageFailed.length} task(s) failed by an outage (attempts lost to infrastructure must not count)`);
  must(wrongOutcome.length === 0, `${wrongOutcome.length} task(s) ended other than succeeded`);
  must(badResult.length === 0, `${badResult.length} result(s) not what the handler computes`);
  must(committedTwice.length === 0, `${committedTwice.length} task(s) committed twice`);
  must(unexplained.length === 0, `${unexplained.length} unexplained duplicate execution(s)`);
  must(violations.length === 0, `${violations.length} worker(s) over capacity`);
  must(unexpectedExits.length === 0, `${unexpectedExits.length} process(es) exited by themselves`);
  for (const k of FAULT_KINDS) must(faults[k].unverified === 0, `${faults[k].unverified} ${k} fault(s) not verified (see the timeline)`);

  return {
    pass: failures.length === 0,
    failures,
    tasks: ids.length,
    unacked: input.unacked,
    settleMs,
    byState,
    lost,
    notTerminal,
    doneEntries: doneBad,
    wrongOutcome,
    outageFailed,
    byMix,
    badResult,
    committedTwice,
    executions: execs.filter((e) => e.event === 'start').length,
    duplicates,
    duplicateReasons,
    unexplained,
    capacity: { limit, maxSeen, violations },
    longestStall,
    faults,
    unexpectedExits,
    errorsLogged,
  };
}
