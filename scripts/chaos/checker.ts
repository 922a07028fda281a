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
import { Paths } from '../../shared/protocol/paths.js';
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import { isTerminal } from '../../shared/protocol/task-state.js';
import { readTask } from '../../shared/protocol/task-store.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { execKey, readExecutions, type Execution, type ExecResult } from './exec-log.js';
import { processLogFiles, readLogLines } from './logs.js';
import { FAULT_KINDS, type FaultKind, type Timeline } from './timeline.js';
import { sleep } from './util.js';

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
  execLog: string;
  logDir: string;
  timeline: Timeline;
  settleTimeoutMs: number;
  say: (line: string) => void;
}

export interface Stall {
  ms: number;
  from: number;
  to: number;
  cause: string;
  kind: FaultKind | null;
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

const TERMINAL_COMMIT = /^committed: (succeeded|failed|cancelled)$/;

async function doneEntries(session: ZkSession, paths: Paths): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const width = Math.max(1, (paths.shards - 1).toString(16).length);
  const lists = await Promise.all(
    Array.from({ length: paths.shards }, (_, s) => session.retrying(() => session.getChildren(paths.doneShard(s.toString(16).padStart(width, '0'))), 30_000)),
  );
  for (const { children } of lists) {
    for (const n of children) {
      const p = Paths.parseDoneEntry(n);
      if (p) counts.set(p.taskId, (counts.get(p.taskId) ?? 0) + 1);
    }
  }
  return counts;
}

async function readRecords(session: ZkSession, paths: Paths, ids: string[]): Promise<Map<string, TaskRecord | null>> {
  const out = new Map<string, TaskRecord | null>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const reads = await Promise.all(chunk.map((id) => readTask(session, paths, id)));
    chunk.forEach((id, k) => {
      const r = reads[k]!;
      out.set(id, r.kind === 'ok' ? r.record : null);
    });
  }
  return out;
}

/** Waits until every id is terminal (or the deadline); returns the last records read. */
async function settle(input: CheckInput, ids: string[]): Promise<{ records: Map<string, TaskRecord | null>; ms: number }> {
  const t0 = Date.now();
  const deadline = t0 + input.settleTimeoutMs;
  let open = ids;
  const records = new Map<string, TaskRecord | null>();
  let lastSay = 0;
  for (;;) {
    try {
      const got = await readRecords(input.session, input.paths, open);
      for (const [id, r] of got) records.set(id, r);
      open = open.filter((id) => {
        const r = records.get(id);
        return !r || !isTerminal(r.state);
      });
    } catch (err) {
      input.say(`[check] reading records failed (${(err as Error).message}); retrying`);
    }
    if (open.length === 0 || Date.now() >= deadline) return { records, ms: Date.now() - t0 };
    if (Date.now() - lastSay > 5000) {
      lastSay = Date.now();
      input.say(`[check] waiting for ${open.length} task(s) to finish`);
    }
    await sleep(1000);
  }
}

/**
 * Gaps between consecutive completions while work was pending, with the fault behind each.
 * A task is pending from the first try to submit it (a submission blocked by an outage is
 * work waiting too) until its outcome is committed.
 */
export function stalls(records: Array<Pick<TaskRecord, 'createdAt' | 'finishedAt' | 'updatedAt'>>, timeline: Pick<Timeline, 'faults' | 'rel'>, firstTriedAt?: (i: number) => number | undefined): Stall[] {
  const created = records.map((r, i) => Math.min(r.createdAt, firstTriedAt?.(i) ?? r.createdAt)).sort((a, b) => a - b);
  const finished = records.map((r) => r.finishedAt ?? r.updatedAt).sort((a, b) => a - b);
  if (created.length === 0) return [];
  const out: Stall[] = [];
  let ci = 0; // created[0..ci) are <= cursor
  let prev = created[0]!;
  let finishedBefore = 0;
  for (const c of finished) {
    while (ci < created.length && created[ci]! <= prev) ci++;
    const pending = ci - finishedBefore;
    // Nothing pending at `prev`: the stall starts when the next task was submitted.
    const from = pending > 0 ? prev : Math.min(c, created[ci] ?? c);
    if (c > from) out.push({ ms: c - from, from, to: c, ...cause(from, c, timeline) });
    prev = c;
    finishedBefore += 1;
  }
  return out;
}

function cause(from: number, to: number, timeline: Pick<Timeline, 'faults' | 'rel'>): { cause: string; kind: FaultKind | null } {
  let best: { kind: FaultKind; overlap: number; start: number; detail: string } | null = null;
  for (const f of timeline.faults) {
    const overlap = Math.min(to, f.end) - Math.max(from, f.start);
    if (overlap > 0 && (!best || overlap > best.overlap)) best = { kind: f.kind, overlap, start: f.start, detail: f.detail };
  }
  if (best) return { kind: best.kind, cause: `${best.kind} at ${timeline.rel(best.start)}: ${best.detail}` };
  // Just after a fault: its aftermath (sessions expiring, a new leader rebuilding).
  const before = timeline.faults.filter((f) => f.end <= from && from - f.end < 10_000).sort((a, b) => b.end - a.end)[0];
  if (before) return { kind: before.kind, cause: `after ${before.kind} at ${timeline.rel(before.start)}: ${before.detail}` };
  return { kind: null, cause: 'no fault active' };
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
  const fenced = new Set<string>();
  const requeuedBy = new Set<string>();
  const terminalCommits = new Map<string, number>();
  const errorsLogged: Record<string, number> = {};
  for (const file of processLogFiles(input.logDir)) {
    for (const l of readLogLines(file)) {
      const msg = typeof l.msg === 'string' ? l.msg : '';
      const taskId = typeof l.taskId === 'string' ? l.taskId : undefined;
      const attempt = typeof l.attempt === 'number' ? l.attempt : undefined;
      if (taskId && attempt !== undefined) {
        if (msg.startsWith('commit fenced')) fenced.add(execKey(taskId, attempt, l.pid));
        else if (TERMINAL_COMMIT.test(msg)) terminalCommits.set(taskId, (terminalCommits.get(taskId) ?? 0) + 1);
        else if (msg.startsWith('committed: ')) requeuedBy.add(execKey(taskId, attempt, l.pid));
      }
      if (l.level >= 50) errorsLogged[msg] = (errorsLogged[msg] ?? 0) + 1;
    }
  }

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
