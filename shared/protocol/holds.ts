// What a record says about the index entries that point at it. The leader, the worker and the
// client all ask these questions of a record they read; the answers live here, once.
import type { Paths, QueueEntry } from './paths.js';
import type { TaskRecord } from './task-record.js';
import { assignmentOf, queueEntryOf } from './task-ops.js';

/**
 * Does this record say that `member` holds attempt `attempt` of the task (assigned to it, or
 * running there)? An assignment node for which this is false is stale: its task was
 * reclaimed, cancelled, finished or given to another attempt.
 */
export function holdsAttempt(rec: TaskRecord, member: string, attempt: number): boolean {
  return rec.worker === member && rec.attempt === attempt && inProgress(rec);
}

function inProgress(rec: TaskRecord): boolean {
  return rec.state === 'assigned' || rec.state === 'running';
}

/** The assignment node this record says holds it (its worker's, for its attempt), or null when it is not assigned or running. */
export function heldAt(paths: Paths, rec: TaskRecord): string | null {
  return rec.worker && rec.attempt >= 1 && inProgress(rec) ? assignmentOf(paths, rec) : null;
}

/** Does this record say that it waits in the queue at exactly this entry? Else the entry is stale. */
export function queuedAt(paths: Paths, rec: TaskRecord, entry: QueueEntry): boolean {
  return rec.state === 'queued' && queueEntryOf(paths, rec) === paths.queueEntryPath(entry);
}
