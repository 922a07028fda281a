// What the checker reads after the run: task records (waiting until they settle), done entries
// from ZooKeeper, and the commit and error lines of the process logs.
import { Paths } from '../../shared/protocol/paths.js';
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import { isTerminal } from '../../shared/protocol/task-state.js';
import { readTask } from '../../shared/protocol/task-store.js';
import type { ZkSession } from '../../shared/zk/session.js';
import type { CheckInput } from './checker.js';
import { execKey } from './exec-log.js';
import { processLogFiles, readLogLines } from './logs.js';
import { sleep } from './util.js';

/** A worker's one line per finished attempt carries the state it committed (field `committed`). */
const TERMINAL_STATES = new Set(['succeeded', 'failed', 'cancelled']);

export async function doneEntries(session: ZkSession, paths: Paths): Promise<Map<string, number>> {
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
export async function settle(input: Pick<CheckInput, 'session' | 'paths' | 'settleTimeoutMs' | 'say'>, ids: string[]): Promise<{ records: Map<string, TaskRecord | null>; ms: number }> {
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

export interface ProcessLogFacts {
  /** Executions (execKey) whose commit was fenced. */
  fenced: Set<string>;
  /** Executions (execKey) that committed a non-terminal outcome (the task was retried). */
  requeuedBy: Set<string>;
  /** Task id → terminal commits logged. */
  terminalCommits: Map<string, number>;
  /** Error-level messages → how often logged. */
  errorsLogged: Record<string, number>;
}

/** Process logs: fenced commits, terminal and non-terminal commits, errors. */
export function readProcessLogs(logDir: string): ProcessLogFacts {
  const fenced = new Set<string>();
  const requeuedBy = new Set<string>();
  const terminalCommits = new Map<string, number>();
  const errorsLogged: Record<string, number> = {};
  for (const file of processLogFiles(logDir)) {
    for (const l of readLogLines(file)) {
      const msg = typeof l.msg === 'string' ? l.msg : '';
      const taskId = typeof l.taskId === 'string' ? l.taskId : undefined;
      const attempt = typeof l.attempt === 'number' ? l.attempt : undefined;
      if (taskId && attempt !== undefined) {
        if (msg.startsWith('commit fenced')) fenced.add(execKey(taskId, attempt, l.pid));
        else if (typeof l.committed === 'string') {
          if (TERMINAL_STATES.has(l.committed)) terminalCommits.set(taskId, (terminalCommits.get(taskId) ?? 0) + 1);
          else requeuedBy.add(execKey(taskId, attempt, l.pid));
        }
      }
      if (l.level >= 50) errorsLogged[msg] = (errorsLogged[msg] ?? 0) + 1;
    }
  }
  return { fenced, requeuedBy, terminalCommits, errorsLogged };
}
