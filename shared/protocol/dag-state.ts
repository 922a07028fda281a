// The moves out of `waiting`, the state of a task whose parents (dependsOn) have not all
// ended: the leader queues it once every parent succeeded (or, with onParentFailure 'run',
// ended), or fails it when one failed or was cancelled. An operator may cancel it (cancelTask).
// A retry of a task failed as dependency-failed (failed → queued, retryTask) runs it at once:
// it does not wait for its parents again (they stay recorded: ctx.parents() still reads them).
import type { TaskRecord } from './task-record.js';
import { move } from './task-state.js';

/** The parent whose end decided a dependent's failure. */
export interface DecidingParent {
  id: string;
  state: string;
}

/** Leader: every parent is done; queued, no earlier than a delayed task's runAt. */
export function releaseTask(rec: TaskRecord, now: number): TaskRecord {
  return move(rec, 'queued', { notBefore: Math.max(now, rec.runAt ?? 0) }, now);
}

/** Leader: a parent failed or was cancelled (onParentFailure 'fail'): the dependent ends failed, not retryable by itself. */
export function failDependency(rec: TaskRecord, parent: DecidingParent, now: number): TaskRecord {
  return move(rec, 'failed', { error: { kind: 'dependency-failed', retryable: false, message: `parent ${parent.id} ${parent.state}` }, finishedAt: now }, now);
}
