// Recent tasks and recent failures as the dashboard shows them, from the task feed's events:
// a summary per task (never its payload or result: those are read on demand, one task at a
// time), bounded (the last RECENT_MAX tasks to change, the last FAILURES_MAX failures),
// whatever the backlog.
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import type { TaskState } from '../../shared/protocol/task-state.js';
import type { TaskEvent, TaskEventKind } from './feed.js';

export const RECENT_MAX = 200;
export const FAILURES_MAX = 50;
/** An error message as the lists show it (the detail view has the whole record). */
const MESSAGE_CHARS = 500;

export interface TaskSummary {
  id: string;
  type: string;
  state: TaskState;
  kind: TaskEventKind;
  attempt: number;
  lost: number;
  maxAttempts: number;
  worker: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The last attempt's run time, once finished (start, else assignment, to finish). */
  durationMs: number | null;
  error: { kind: string; message: string } | null;
}

export interface FailureEntry {
  at: number;
  id: string;
  type: string;
  attempt: number;
  worker: string | null;
  /** failed: the task ended; retried: it goes back after its backoff; lost: infrastructure took the attempt. */
  outcome: 'failed' | 'retried' | 'lost';
  kind: string;
  message: string;
}

const cut = (s: string) => (s.length > MESSAGE_CHARS ? `${s.slice(0, MESSAGE_CHARS)}…` : s);

export function summarize(ev: TaskEvent, r: TaskRecord): TaskSummary {
  const began = r.startedAt ?? r.assignedAt;
  return {
    id: r.id,
    type: r.type,
    state: r.state,
    kind: ev.kind,
    attempt: r.attempt,
    lost: r.lost ?? 0,
    maxAttempts: r.maxAttempts,
    worker: r.worker,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    startedAt: r.startedAt ?? null,
    finishedAt: r.finishedAt ?? null,
    durationMs: r.finishedAt !== undefined && began !== undefined ? Math.max(0, r.finishedAt - began) : null,
    error: r.error ? { kind: r.error.kind, message: cut(String(r.error.message)) } : null,
  };
}

function failureOf(ev: TaskEvent, s: TaskSummary): FailureEntry | null {
  if (!s.error) return null;
  let outcome: FailureEntry['outcome'];
  if (ev.kind === 'finished' && s.state === 'failed') outcome = 'failed';
  else if (ev.kind === 'retried') outcome = 'retried';
  else if (ev.kind === 'lost') outcome = 'lost';
  else return null;
  return { at: s.updatedAt, id: s.id, type: s.type, attempt: s.attempt, worker: ev.worker, outcome, kind: s.error.kind, message: s.error.message };
}

export class TaskLog {
  /** In order of last change (a Map keeps insertion order: re-inserted on each change). */
  private readonly recent = new Map<string, TaskSummary>();
  private readonly failures: FailureEntry[] = [];

  /** Takes one feed event; returns what changed (the summary, and a failure if it is one). */
  add(ev: TaskEvent): { task: TaskSummary; failure: FailureEntry | null } | null {
    if (!ev.record) return null; // progress: not shown in the lists
    const prev = this.recent.get(ev.id);
    // Events of a task come in record order; one older than what we hold is a late duplicate.
    if (prev && prev.updatedAt > ev.record.updatedAt) return null;
    const task = summarize(ev, ev.record);
    this.recent.delete(ev.id);
    this.recent.set(ev.id, task);
    if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
    const failure = failureOf(ev, task);
    if (failure) {
      this.failures.push(failure);
      if (this.failures.length > FAILURES_MAX) this.failures.shift();
    }
    return { task, failure };
  }

  /** Newest change first. */
  recentTasks(limit: number, state?: string): TaskSummary[] {
    const out: TaskSummary[] = [];
    const all = [...this.recent.values()];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      if (!state || all[i]!.state === state) out.push(all[i]!);
    }
    return out;
  }

  /** Newest first. */
  recentFailures(limit: number): FailureEntry[] {
    return this.failures.slice(-limit).reverse();
  }
}
