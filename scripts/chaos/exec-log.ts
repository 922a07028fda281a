// The execution log written by handlers.mjs: one `start` and one `end` line per handler run.
import { existsSync, readFileSync } from 'node:fs';

export interface ExecResult {
  taskId: string;
  attempt: number;
  pid: number;
  value: unknown;
  double: unknown;
}

export interface Execution {
  event: 'start' | 'end';
  taskId: string;
  attempt: number;
  pid: number;
  at: number;
  /** end only: how the run ended. */
  outcome?: 'ok' | 'aborted' | 'error';
  /** end only, when aborted: the abort kind (session-lost, withdrawn, timeout, stopping). */
  abort?: string;
  result?: ExecResult;
}

/** Lines in file order (per process, the order they happened in). */
export function readExecutions(file: string): Execution[] {
  if (!existsSync(file)) return [];
  const out: Execution[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as Execution);
    } catch {
      /* a line cut short by a kill */
    }
  }
  return out;
}

export const execKey = (taskId: string, attempt: number, pid: number): string => `${taskId}#${attempt}#${pid}`;
