// drover's library API: `import { DroverClient, Worker, Master } from 'drover'`.
export { DroverClient, TaskNotFoundError, WaitTimeoutError } from './client/drover-client.js';
export type { DroverClientOptions, SubmitResult, TaskView, ClusterStatus, WorkerStatus } from './client/drover-client.js';
export { Worker, WorkerOptionError } from './worker/worker.js';
export type { WorkerOptions, WorkerState, WorkerStats, WorkerEvents } from './worker/worker.js';
export { NonRetryableError, builtinHandlers, loadHandlers } from './worker/handlers.js';
export type { TaskContext, TaskHandler, HandlerMap } from './worker/handlers.js';
export { Master } from './master/master.js';
export type { MasterOptions, MasterState, MasterEvents } from './master/master.js';
export { TASK_STATES, TERMINAL_STATES, IllegalTransitionError } from './shared/protocol/task-state.js';
export type { TaskState } from './shared/protocol/task-state.js';
export { TaskValidationError, PayloadTooLargeError, MalformedRecordError } from './shared/protocol/task-record.js';
export type { TaskRecord, TaskSpec, TaskError, TaskErrorKind, SubmitInput, Backoff, SizeLimits } from './shared/protocol/task-record.js';
export { ZkSession } from './shared/zk/session.js';
export type { ZkSessionOptions, SessionState } from './shared/zk/session.js';
export * from './shared/zk/errors.js';
export { createLogger } from './shared/log.js';
