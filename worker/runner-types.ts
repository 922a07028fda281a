// What the attempt runner is given and what it tells its worker.
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { SizeLimits } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import type { ZkSession } from '../shared/zk/session.js';
import type { AttemptEnd } from './attempt-report.js';
import type { HandlerMap } from './handlers.js';
import type { WorkerMetrics } from './worker-metrics.js';

/** What the runner tells its worker (stats and events). */
export interface RunnerReport {
  started(e: { taskId: string; attempt: number }): void;
  committed(e: { taskId: string; attempt: number; state: TaskState }): void;
  fenced(e: { taskId: string; attempt: number; reason: string }): void;
  /** An attempt ended (after the others above): its outcome, logged already. */
  ended(e: AttemptEnd): void;
}

export interface RunnerOptions {
  session: ZkSession;
  paths: Paths;
  handlers: HandlerMap;
  limits: SizeLimits;
  concurrency: number;
  log: Logger;
  /** Re-creates our assignment directory if it is gone; false when our member node is gone. */
  restoreAssignDir(): Promise<boolean>;
  report: RunnerReport;
  metrics?: WorkerMetrics;
}
