// What a wait() rejects with, besides the session's own errors (ConnectionLossError when
// ZooKeeper stays away, SessionClosedError once the client is closed).
import type { TaskRecord } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';

export class TaskNotFoundError extends Error {
  override name = 'TaskNotFoundError';
  constructor(readonly taskId: string) {
    super(`task ${taskId} not found`);
  }
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
  constructor(
    readonly taskId: string,
    readonly state: TaskState,
  ) {
    super(`task ${taskId} is still ${state}`);
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WaitManyOptions<R = TaskRecord> extends WaitOptions {
  /** Called once per task as soon as it is terminal (any order), with its index in `ids`. */
  onEach?: (rec: R, index: number) => void;
}
