// How a worker tells that an attempt ended: its outcome (one label of a fixed set, for the
// metrics and the log), and its ONE log line, info when it went well, warn when it failed,
// with its duration, and the message and stack of its error.
import type { Logger } from '../shared/log.js';
import type { Outcome } from '../shared/protocol/task-ops.js';
import type { TaskError } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import type { Attempt } from './attempt.js';
import type { CommitResult } from './commit.js';
import type { AbortKind, ExecuteResult } from './executor.js';
import type { WorkerMetrics } from './worker-metrics.js';

/**
 * How one attempt ended, as this worker saw it:
 * - succeeded: its result committed;
 * - retried: its handler failed (threw), committed, and the task went back to the queue;
 * - failed: its handler failed (threw, or its record was malformed), committed, and the task failed for good;
 * - timeout: it ran past the task's timeoutMs (committed; retried or failed: `willRetry` says);
 * - too-large: its result was over the size limit (committed; the task failed);
 * - unknown-type: this worker has no handler for its type (committed as lost: back to the queue);
 * - lost: its session was lost under it (committed as worker-lost), or the worker stopped past
 *   its grace period (not committed: the leader reclaims it);
 * - fenced: its commit was refused, or not sent, because its assignment is gone (reclaimed);
 * - cancelled: likewise, and the record says a user cancelled the task;
 * - abandoned: its commit was never confirmed: the worker stopped (or its session closed) first.
 * A commit refused again and again ('left') is no end: the assignment is run again later and
 * that run reports. An attempt that never started (start-batch verdicts) reports nothing.
 */
export type AttemptOutcomeLabel = 'succeeded' | 'retried' | 'failed' | 'timeout' | 'too-large' | 'unknown-type' | 'lost' | 'fenced' | 'cancelled' | 'abandoned';

/** One attempt's end, as the worker reports it (events, metrics, its log line). */
export interface AttemptEnd {
  taskId: string;
  type: string;
  attempt: number;
  outcome: AttemptOutcomeLabel;
  durationMs: number;
  /** The task's state as committed (absent when nothing was committed). */
  committed?: TaskState;
  /** The committed result (succeeded). */
  result?: unknown;
  /** The committed error (a failure of any kind). */
  error?: TaskError;
  /** A committed failure sent the task back to the queue. */
  willRetry?: boolean;
  /** Fenced, cancelled or abandoned: why. */
  reason?: string;
}

/** `r` undefined: the attempt was not committed because the worker is stopping. */
export function outcomeOf(outcome: Outcome, aborted: AbortKind | undefined, r: CommitResult | undefined): AttemptOutcomeLabel {
  if (!r) return aborted === 'stopping' ? 'lost' : 'abandoned';
  if (r.kind === 'fenced') return r.cancelled !== undefined ? 'cancelled' : 'fenced';
  if (r.kind !== 'committed') return 'abandoned';
  if (r.state === 'succeeded') return 'succeeded';
  // A success whose result could not fit one request is failed as too-large by the commit.
  if (outcome.kind === 'success') return 'too-large';
  switch (outcome.error.kind) {
    case 'timeout':
      return 'timeout';
    case 'too-large':
      return 'too-large';
    case 'unknown-type':
      return 'unknown-type';
    case 'worker-lost':
      return 'lost';
    case 'cancelled':
      return 'cancelled';
    default:
      return r.state === 'queued' ? 'retried' : 'failed';
  }
}

const VERB: Record<AttemptOutcomeLabel, string> = {
  succeeded: 'succeeded',
  retried: 'failed',
  failed: 'failed',
  timeout: 'timed out',
  'too-large': 'failed (result too large)',
  'unknown-type': 'has no handler here',
  lost: 'lost',
  fenced: 'fenced',
  cancelled: 'cancelled',
  abandoned: 'left unconfirmed',
};

/**
 * The attempt's one line. Fenced and cancelled attempts keep the lines they had (a reclaim
 * is a warning, a user's cancel is not), with the same fields as the others.
 */
export function logAttemptEnd(log: Logger, e: AttemptEnd): void {
  const fields = { id: e.taskId, type: e.type, attempt: e.attempt, outcome: e.outcome, durationMs: e.durationMs, ...(e.committed ? { committed: e.committed } : {}) };
  const head = `task ${e.taskId} ${e.type} ${VERB[e.outcome]} in ${e.durationMs} ms (attempt ${e.attempt})`;
  if (e.outcome === 'succeeded') return log.info(fields, head);
  if (e.outcome === 'cancelled') return log.info({ ...fields, reason: e.reason }, `attempt cancelled: ${e.reason}; its outcome is not stored`);
  if (e.outcome === 'fenced') return log.warn({ ...fields, reason: e.reason }, `commit fenced for task ${e.taskId} attempt ${e.attempt}: ${e.reason}`);
  if (e.outcome === 'abandoned') return log.warn({ ...fields, reason: e.reason }, `${head}: ${e.reason}`);
  if (!e.error) return log.warn(fields, head);
  const then = e.willRetry ? 'will retry' : 'will not retry';
  const err = { message: e.error.message, kind: e.error.kind, ...(e.error.stack !== undefined ? { stack: e.error.stack } : {}) };
  log.warn({ ...fields, willRetry: e.willRetry === true, err }, `${head}: ${e.error.message}; ${then}`);
}

/**
 * An attempt ended: its AttemptEnd (what the commit wrote: the result, or the error as cut to
 * fit), logged in its one line and counted. `r` undefined: not committed (the worker stops).
 */
export function attemptEnded(a: Attempt, res: ExecuteResult, r: CommitResult | undefined, metrics?: WorkerMetrics): AttemptEnd {
  const rec = r?.kind === 'committed' ? r.record : undefined;
  const type = a.cur.record.type;
  const e: AttemptEnd = {
    taskId: a.taskId,
    type,
    attempt: a.attempt,
    outcome: outcomeOf(res.outcome, res.aborted, r),
    durationMs: Math.round(res.durationMs),
    ...(rec ? { committed: rec.state } : {}),
    ...(rec?.state === 'succeeded' ? { result: rec.result ?? null } : {}),
    ...(rec && rec.state !== 'succeeded' && rec.error ? { error: rec.error, willRetry: rec.state === 'queued' } : {}),
    ...(r?.kind === 'fenced' ? { reason: r.cancelled ?? r.reason } : {}),
    ...(r?.kind === 'abandoned' ? { reason: r.reason } : {}),
  };
  logAttemptEnd(a.log, e);
  if (metrics) {
    metrics.ended(type, e.outcome, res.durationMs);
    if (rec && (rec.state === 'succeeded' || rec.state === 'failed')) metrics.finished(type, rec.runAt ?? rec.createdAt, rec.finishedAt ?? Date.now());
  }
  return e;
}
