// The task life cycle as an explicit state machine. Every change of a record goes through
// one of the transition functions below; each returns a new record or throws
// IllegalTransitionError. They are pure: the ZooKeeper write that carries them (one fenced
// multi) lives with the caller.
import type { TaskError, TaskRecord } from './task-record.js';
import { backoffDelay } from './task-record.js';

export const TASK_STATES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled'];

/** Allowed moves. assigned → succeeded/failed covers a worker that finishes before it marked the start. */
export const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  queued: ['assigned', 'cancelled', 'failed'],
  assigned: ['running', 'queued', 'succeeded', 'failed', 'cancelled'],
  running: ['succeeded', 'failed', 'queued', 'cancelled'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

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

function move(rec: TaskRecord, to: TaskState, patch: Partial<TaskRecord>, now: number): TaskRecord {
  if (!TRANSITIONS[rec.state].includes(to)) throw new IllegalTransitionError(rec.id, rec.state, to);
  return { ...rec, ...patch, state: to, updatedAt: now };
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
 * An attempt failed. Retryable failures with attempts left go back to the queue after the
 * backoff; others end the task as failed.
 */
export function failAttempt(rec: TaskRecord, error: TaskError, now: number): TaskRecord {
  if (error.retryable && rec.attempt < rec.maxAttempts) {
    return move(rec, 'queued', { error, notBefore: now + backoffDelay(rec) }, now);
  }
  return move(rec, 'failed', { error, finishedAt: now }, now);
}

export function cancelTask(rec: TaskRecord, reason: string, now: number): TaskRecord {
  return move(rec, 'cancelled', { error: { kind: 'cancelled', message: reason, retryable: false }, finishedAt: now }, now);
}

/** Failed without running (a malformed record, say): only from queued. */
export function rejectTask(rec: TaskRecord, error: TaskError, now: number): TaskRecord {
  return move(rec, 'failed', { error, finishedAt: now }, now);
}
