// The task life cycle as an explicit state machine. Every change of a record goes through
// one of the transition functions below; each returns a new record or throws
// IllegalTransitionError. They are pure: the ZooKeeper write that carries them (one fenced
// multi) lives with the caller.
import { cutMessage } from './messages.js';
import type { AttemptOutcome, TaskError, TaskErrorKind, TaskRecord } from './task-record.js';
import { appendHistory, attemptEntry, boundedError, endsAttempt } from './attempt-history.js';
import { DEFAULT_MAX_LOST, backoffDelay } from './task-record.js';

export const TASK_STATES = ['waiting', 'queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled'];

/**
 * Allowed moves. assigned → succeeded/failed covers a worker that finishes before it marked
 * the start. failed/cancelled → queued is a retry (retryTask) and nothing else: a terminal
 * state means "ended for now", left only by an operator's retry. waiting → queued/failed are
 * the leader's release (dag-state.ts).
 */
export const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  // A dependent task (dependsOn) waits for its parents: released, failed by one, or cancelled (dag-state.ts).
  waiting: ['queued', 'failed', 'cancelled'],
  queued: ['assigned', 'cancelled', 'failed'],
  assigned: ['running', 'queued', 'succeeded', 'failed', 'cancelled'],
  running: ['succeeded', 'failed', 'queued', 'cancelled'],
  succeeded: [],
  failed: ['queued'],
  cancelled: ['queued'],
};

/** The states a retry takes a task from. */
export const RETRYABLE_STATES: readonly TaskState[] = ['failed', 'cancelled'];

/**
 * Why a failed record cannot be retried, or null. A record failed as malformed holds the
 * stand-in written in place of bytes nobody could read (type 'unknown', payload null):
 * queued again it would run nothing the submitter sent.
 */
export function retryRefusal(rec: Pick<TaskRecord, 'id' | 'error'>): string | null {
  return rec.error?.kind === 'malformed' ? `task ${rec.id} failed as malformed: its record could not be read (type and payload are lost), so it cannot run again; submit it anew` : null;
}

export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
  constructor(
    readonly taskId: string,
    readonly from: TaskState,
    readonly to: TaskState,
  ) {
    super(`task ${taskId}: illegal transition ${from} → ${to}`);
  }
}

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

/**
 * Every change of state goes through here (dag-state.ts's moves too), so the rules that follow any move live once: an
 * error kept in the record is bounded (message as given, already cut; stack to
 * MAX_STACK_CHARS), and a move that ends an attempt appends its entry to the history, built
 * from the record being left (attempt-history.ts), in the same record the multi writes.
 */
export function move(rec: TaskRecord, to: TaskState, patch: Partial<TaskRecord>, now: number, retry = false): TaskRecord {
  // Out of a terminal state only by retryTask: a late failAttempt on a failed record stays illegal.
  if (!TRANSITIONS[rec.state].includes(to) || (isTerminal(rec.state) && !retry)) throw new IllegalTransitionError(rec.id, rec.state, to);
  const next: TaskRecord = { ...rec, ...patch, state: to, updatedAt: now };
  if (patch.error) next.error = boundedError(patch.error, Number.MAX_SAFE_INTEGER);
  if (endsAttempt(rec.state, to)) next.history = appendHistory(rec.history, attemptEntry(rec, outcomeOf(to, patch.error), patch.error, now));
  return next;
}

/** How an attempt that moves to `to` with `error` ended. */
function outcomeOf(to: TaskState, error: TaskError | undefined): AttemptOutcome {
  if (to === 'succeeded') return 'succeeded';
  if (to === 'cancelled') return 'cancelled';
  return error && LOST_KINDS.includes(error.kind) ? 'lost' : 'failed';
}

/** Leader: a queued task goes to a worker as attempt+1. */
export function assignTask(rec: TaskRecord, member: string, epoch: number, now: number): TaskRecord {
  const r = move(rec, 'assigned', { attempt: rec.attempt + 1, worker: member, epoch, assignedAt: now }, now);
  delete r.notBefore;
  delete r.startedAt;
  return r;
}

/** Worker: it began running the handler. */
export function startTask(rec: TaskRecord, now: number): TaskRecord {
  return move(rec, 'running', { startedAt: now }, now);
}

export function succeedTask(rec: TaskRecord, result: unknown, now: number): TaskRecord {
  const r = move(rec, 'succeeded', { result: result === undefined ? null : result, finishedAt: now }, now);
  delete r.error;
  return r;
}

/**
 * Kinds that say the attempt was lost to infrastructure (its worker or session went, a
 * withdrawal, a drain, a worker without the handler), not that the task failed.
 */
export const LOST_KINDS: readonly TaskErrorKind[] = ['worker-lost', 'unknown-type'];

/**
 * Attempts that counted against maxAttempts: every assignment since the last retry
 * (attemptBase) minus those lost to infrastructure since then.
 */
export function attemptsUsed(rec: Pick<TaskRecord, 'attempt' | 'lost' | 'attemptBase'>): number {
  return rec.attempt - (rec.lost ?? 0) - (rec.attemptBase ?? 0);
}

/** Bounds of the wait after an unknown-type loss (unknownTypeBackoff). */
export const UNKNOWN_TYPE_BACKOFF = { minMs: 1000, maxMs: 30_000 };

/**
 * The wait before a task lost to a worker without its handler goes back to the queue: the
 * task's backoff by its count of losses, within UNKNOWN_TYPE_BACKOFF. A leader that does not
 * place by type (an older one, during a rolling deploy) may give it to such workers again and
 * again: at once, the task would use up maxLost in milliseconds; this way 10 losses take
 * minutes, time for the deploy to bring a worker that has the handler.
 */
export function unknownTypeBackoff(rec: Pick<TaskRecord, 'backoff'>, lost: number): number {
  const { initialMs, factor } = rec.backoff;
  const ms = initialMs * factor ** Math.max(0, lost - 1);
  return Math.round(Math.min(UNKNOWN_TYPE_BACKOFF.maxMs, Math.max(UNKNOWN_TYPE_BACKOFF.minMs, Number.isFinite(ms) ? ms : Infinity)));
}

/**
 * An attempt failed. A loss to infrastructure (a LOST_KINDS error) does not use up an attempt:
 * it bumps `lost` and goes back to the queue while lost ≤ maxLost (at once; after
 * unknownTypeBackoff for an unknown type) (so a task that
 * kills every worker running it still ends), else fails with that kind. Any other retryable
 * failure goes back after the backoff while attemptsUsed < maxAttempts; others end the task.
 */
export function failAttempt(rec: TaskRecord, error: TaskError, now: number): TaskRecord {
  if (LOST_KINDS.includes(error.kind)) {
    const lost = (rec.lost ?? 0) + 1;
    const notBefore = error.kind === 'unknown-type' ? now + unknownTypeBackoff(rec, lost) : now;
    if (lost <= (rec.maxLost ?? DEFAULT_MAX_LOST)) return move(rec, 'queued', { error, lost, notBefore }, now);
    return move(rec, 'failed', { error: { ...error, retryable: false }, lost, finishedAt: now }, now);
  }
  if (error.retryable && attemptsUsed(rec) < rec.maxAttempts) {
    return move(rec, 'queued', { error, notBefore: now + backoffDelay(rec) }, now);
  }
  return move(rec, 'failed', { error, finishedAt: now }, now);
}

/**
 * The leader takes an attempt back (its worker is gone, its deadline passed). One that never
 * started (record still `assigned`) never ran the handler, whatever the reason given: it is
 * an infrastructure loss (`worker-lost`).
 */
export function reclaimAttempt(rec: TaskRecord, error: TaskError, now: number): TaskRecord {
  const lostUnrun = rec.state === 'assigned' && !LOST_KINDS.includes(error.kind);
  return failAttempt(rec, lostUnrun ? { kind: 'worker-lost', retryable: true, message: `${error.message} (never started)` } : error, now);
}

/** Cancelled with `reason`, cut like any message in a record (cutMessage). */
export function cancelTask(rec: TaskRecord, reason: string, now: number): TaskRecord {
  return move(rec, 'cancelled', { error: { kind: 'cancelled', message: cutMessage(String(reason)), retryable: false }, finishedAt: now }, now);
}

/**
 * An operator queues a failed or cancelled task again with a fresh budget: maxAttempts and
 * maxLost count from here (attemptBase = attempt, lost = 0), while `attempt` keeps counting
 * up, so the next assignment's name is new (ABA). The history stays; the outcome of the
 * ended run (error, result, finishedAt) goes; it is due at once.
 */
export function retryTask(rec: TaskRecord, now: number): TaskRecord {
  if (!RETRYABLE_STATES.includes(rec.state)) throw new IllegalTransitionError(rec.id, rec.state, 'queued');
  // `now` is the caller's token (retriedAt: one for a whole bulk retry, which recognises its
  // own writes by it); the record's time never goes back (a task that failed after the bulk
  // began): readers keep the newer of two records by updatedAt.
  const at = Math.max(now, rec.updatedAt);
  const r = move(rec, 'queued', { attemptBase: rec.attempt, lost: 0, retries: (rec.retries ?? 0) + 1, retriedAt: now, notBefore: at }, at, true);
  delete r.error;
  delete r.result;
  delete r.finishedAt;
  delete r.startedAt;
  return r;
}

/** Failed without running (a malformed record, say): from queued, or from assigned (never started). */
export function rejectTask(rec: TaskRecord, error: TaskError, now: number): TaskRecord {
  return move(rec, 'failed', { error, finishedAt: now }, now);
}

/**
 * A record that could not be read, through its stand-in (task-record's malformedStandIn):
 * failed with the reason, a legal move queued → failed or assigned → failed.
 */
export function rejectMalformed(standIn: TaskRecord, reason: string, now: number): TaskRecord {
  // Cut like any message in a record: a reason quotes stored bytes (an unknown state, say).
  return rejectTask(standIn, { kind: 'malformed', message: cutMessage(reason), retryable: false }, now);
}

// The moves out of `waiting` (task dependencies) live in dag-state.ts.
export { failDependency, releaseTask } from './dag-state.js';
