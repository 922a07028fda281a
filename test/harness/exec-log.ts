// Reads the execution log written by test/fixtures/recording-handlers.mjs, and checks a root's
// final state against it: every task terminal, one done entry each, each committed result
// produced by an execution that really happened.
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DroverClient } from '../../client/drover-client.js';
import { Paths } from '../../shared/protocol/paths.js';
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import type { ZkSession } from '../../shared/zk/session.js';
import type { Execution } from '../../scripts/chaos/exec-log.js';
import { tempDir } from './temp.js';

export const RECORDING_HANDLERS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'recording-handlers.mjs');

export function newExecLog(): string {
  return join(tempDir('drover-exec-'), 'executions.jsonl');
}

// One reader for the log of the shared recording handlers (it skips a line cut short by a kill).
export { readExecutions as readExecLog } from '../../scripts/chaos/exec-log.js';
export type { Execution };

/** Number of done entries per task id across all done shards. */
export async function doneEntriesPerTask(session: ZkSession, paths: Paths): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const shard of paths.shardNames) {
    const { children } = await session.getChildren(paths.doneShard(shard));
    for (const n of children) {
      const p = Paths.parseDoneEntry(n);
      if (p) counts.set(p.taskId, (counts.get(p.taskId) ?? 0) + 1);
    }
  }
  return counts;
}

export interface CheckReport {
  tasks: number;
  byState: Record<string, number>;
  lost: string[];
  notTerminal: string[];
  doubleDone: string[];
  resultWithoutExecution: string[];
  duplicateExecutions: number;
}

/** Checks every id: exists, terminal, exactly one done entry, result produced by a logged execution. */
export async function checkOutcomes(client: DroverClient, session: ZkSession, ids: string[], execs: Execution[]): Promise<CheckReport> {
  const done = await doneEntriesPerTask(session, client.paths);
  const ends = new Set(execs.filter((e) => e.event === 'end').map((e) => `${e.taskId}#${e.attempt}#${e.pid}`));
  const starts = new Map<string, number>();
  for (const e of execs) if (e.event === 'start') starts.set(e.taskId, (starts.get(e.taskId) ?? 0) + 1);
  const report: CheckReport = { tasks: ids.length, byState: {}, lost: [], notTerminal: [], doubleDone: [], resultWithoutExecution: [], duplicateExecutions: 0 };
  const recs = await Promise.all(ids.map((id) => client.get(id)));
  ids.forEach((id, i) => {
    const r = recs[i] as TaskRecord | null;
    if (!r) return void report.lost.push(id);
    report.byState[r.state] = (report.byState[r.state] ?? 0) + 1;
    if (!['succeeded', 'failed', 'cancelled'].includes(r.state)) report.notTerminal.push(id);
    if ((done.get(id) ?? 0) !== 1) report.doubleDone.push(`${id}:${done.get(id) ?? 0}`);
    if (r.state === 'succeeded') {
      const res = r.result as Execution['result'];
      if (!res || !ends.has(`${id}#${res.attempt}#${res.pid}`) || res.attempt !== r.attempt) report.resultWithoutExecution.push(id);
    }
    report.duplicateExecutions += Math.max(0, (starts.get(id) ?? 0) - 1);
  });
  return report;
}
