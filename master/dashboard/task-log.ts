// Recent tasks and recent failures as the dashboard shows them, from the task feed's events:
// a summary per task (never its payload or result: those are read on demand, one task at a
// time), bounded (the last RECENT_MAX tasks to change, the last FAILURES_MAX failures),
// whatever the backlog. Failures come from the record's attempt history (every attempt that
// ended failed or lost, each with its own error), the entries newer than those already seen
// of that task: an attempt whose event we never saw (events coalesce) still appears, once.
import type { AttemptEntry, TaskRecord } from '../../shared/protocol/task-record.js';
import type { TaskState } from '../../shared/protocol/task-state.js';
import type { TaskEvent, TaskEventKind } from './feed.js';
import { compareVersions } from './record-order.js';

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
  /** Operator retries (drover retry) so far. */
  retries: number;
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

export function summarize(ev: Pick<TaskEvent, 'kind'>, r: TaskRecord): TaskSummary {
  const began = r.startedAt ?? r.assignedAt;
  return {
    id: r.id,
    type: r.type,
    state: r.state,
    kind: ev.kind,
    attempt: r.attempt,
    retries: r.retries ?? 0,
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

const sameEntry = (a: AttemptEntry, b: AttemptEntry) => a.attempt === b.attempt && a.endedAt === b.endedAt && a.outcome === b.outcome && a.worker === b.worker;
const newerEntry = (a: AttemptEntry, b: AttemptEntry) => a.attempt > b.attempt || (a.attempt === b.attempt && a.endedAt > b.endedAt);

/** History entries after `seen` (the last one taken before); all of them when none was. */
function entriesAfter(history: readonly AttemptEntry[], seen: AttemptEntry | undefined): readonly AttemptEntry[] {
  if (!seen) return history;
  for (let i = history.length - 1; i >= 0; i--) if (sameEntry(history[i]!, seen)) return history.slice(i + 1);
  // Shifted out of the bounded history: what is newer than it.
  return history.filter((a) => newerEntry(a, seen));
}

function failureOf(r: TaskRecord, a: AttemptEntry, last: boolean): FailureEntry | null {
  let outcome: FailureEntry['outcome'];
  if (a.outcome === 'lost') outcome = 'lost';
  else if (a.outcome === 'failed') outcome = last && r.state === 'failed' ? 'failed' : 'retried';
  else return null;
  const err = a.error ?? (last ? r.error : undefined);
  return { at: a.endedAt, id: r.id, type: r.type, attempt: a.attempt, worker: a.worker, outcome, kind: err?.kind ?? outcome, message: cut(String(err?.message ?? '')) };
}

/** How a record's state reads as an event kind (for a record read by a listing, not the feed). */
export function kindOf(r: TaskRecord): TaskEventKind {
  if (r.state === 'queued') return 'queued';
  if (r.state === 'assigned') return 'assigned';
  if (r.state === 'running') return 'started';
  return 'finished';
}

export interface Taken {
  task: TaskSummary;
  /** The attempts that ended failed or lost since this task was last taken (oldest first). */
  failures: FailureEntry[];
}

export class TaskLog {
  /** In order of last change (a Map keeps insertion order: re-inserted on each change). */
  private readonly recent = new Map<string, TaskSummary>();
  private readonly failures: FailureEntry[] = [];
  /** Per task held in `recent`: the last history entry taken (failures are those after it). */
  private readonly lastEntry = new Map<string, AttemptEntry>();

  /** Takes one feed event; returns what changed (the summary, and the failures it shows). */
  add(ev: TaskEvent): Taken | null {
    if (!ev.record) return null; // progress: not shown in the lists
    return this.take(ev.kind, ev.record);
  }

  /** A record read by a listing (the seed when a feed opens), taken as an event would be. */
  seed(r: TaskRecord): Taken | null {
    return this.take(kindOf(r), r);
  }

  private take(kind: TaskEventKind, r: TaskRecord): Taken | null {
    const prev = this.recent.get(r.id);
    // Events of a task come in record order; one older than what we hold is a late duplicate.
    if (prev && compareVersions(prev, r) > 0) return null;
    const task = summarize({ kind }, r);
    this.recent.delete(r.id);
    this.recent.set(r.id, task);
    if (this.recent.size > RECENT_MAX) {
      const oldest = this.recent.keys().next().value!;
      this.recent.delete(oldest);
      this.lastEntry.delete(oldest);
    }
    const history = r.history ?? [];
    const fresh = entriesAfter(history, this.lastEntry.get(r.id));
    if (history.length > 0) this.lastEntry.set(r.id, history[history.length - 1]!);
    const failures: FailureEntry[] = [];
    for (const a of fresh) {
      const f = failureOf(r, a, a === history[history.length - 1]);
      if (f) failures.push(f);
    }
    // Failed without ending an attempt (a malformed record failed from the queue): no history entry.
    if (r.state === 'failed' && history.length === 0 && prev?.state !== 'failed') {
      failures.push({ at: r.finishedAt ?? r.updatedAt, id: r.id, type: r.type, attempt: r.attempt, worker: r.worker, outcome: 'failed', kind: r.error?.kind ?? 'failed', message: cut(String(r.error?.message ?? '')) });
    }
    for (const f of failures) {
      this.failures.push(f);
      if (this.failures.length > FAILURES_MAX) this.failures.shift();
    }
    return { task, failures };
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

  /** Newest first (by when the attempt ended: a seed or a late read adds older ones). */
  recentFailures(limit: number): FailureEntry[] {
    return [...this.failures].sort((a, b) => b.at - a.at).slice(0, limit);
  }
}
