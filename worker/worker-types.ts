// What a Worker (worker.ts, which re-exports these) shows its users: its states, stats and
// the events it emits.
import type { TaskError } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import type { AttemptEnd } from './attempt-report.js';

export type WorkerState = 'initialized' | 'running' | 'draining' | 'stopped' | 'failed';

export interface WorkerStats {
  /** Handlers invoked. */
  started: number;
  /** Outcomes committed (including malformed records failed by this worker). */
  committed: number;
  /** Commits refused by the fence (the task was cancelled or reclaimed). */
  fenced: number;
}

export interface WorkerEvents {
  state: [state: WorkerState, previous: WorkerState];
  started: [{ taskId: string; attempt: number }];
  committed: [{ taskId: string; attempt: number; state: TaskState }];
  fenced: [{ taskId: string; attempt: number; reason: string }];
  /** A success was committed (as BullMQ's `completed`). */
  completed: [WorkerCompletedEvent];
  /** A failure was committed: the task went back to the queue (`willRetry`) or failed for good. */
  failed: [WorkerFailedEvent];
  /** Any attempt ended, however (succeeded, retried, fenced, lost, ...: AttemptEnd.outcome). */
  ended: [AttemptEnd];
}

export interface WorkerCompletedEvent {
  id: string;
  type: string;
  attempt: number;
  /** As stored in the record (what JSON kept of the handler's return value). */
  result: unknown;
  /** How long the handler ran. */
  durationMs: number;
}

export interface WorkerFailedEvent {
  id: string;
  type: string;
  attempt: number;
  /** As stored in the record: message, kind, retryable, and the handler's stack (cut to MAX_STACK_CHARS). */
  error: TaskError;
  willRetry: boolean;
  durationMs: number;
}
