// What a task feed emits for a record it read, given what it saw of that task before: pure,
// so the rules live once (task-feed.ts and its sources only read and route). The kind follows
// from the record itself: a queued record with attempts behind it was retried or lost (its
// last history entry says which); phases a read skipped (a task assigned and started between
// two reads) are filled in from the record's own times, so a reader sees them in order.
import type { AttemptEntry, TaskRecord } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import { LOST_KINDS } from '../shared/protocol/task-state.js';

export type TaskEventKind = 'waiting' | 'queued' | 'assigned' | 'started' | 'progress' | 'retried' | 'lost' | 'finished';

export interface TaskEvent {
  kind: TaskEventKind;
  id: string;
  type: string;
  /** The record's state when read ('finished': succeeded | failed | cancelled). */
  state: TaskState;
  attempt: number;
  /** Member name. */
  worker: string | null;
  /** ms epoch: the record's updatedAt (or when the progress was reported). */
  at: number;
  /** Kind 'progress' only. */
  progress?: unknown;
  /** The record as read (absent for 'progress'; for a filled-in phase, the later record that showed it). */
  record?: TaskRecord;
}

/** What a feed remembers of one task between reads. */
export interface Seen {
  /** Identifies the record version last applied (state, attempt, updatedAt). */
  key: string;
  attempt: number;
  /** -1 waiting (for its parents), 0 queued, 1 assigned, 2 started, 3 finished: the phase of `attempt` last emitted. */
  phase: number;
  type: string;
  /** progressAt of the last progress emitted. */
  progressAt?: number;
}

const PHASE: Record<TaskState, number> = { waiting: -1, queued: 0, assigned: 1, running: 2, succeeded: 3, failed: 3, cancelled: 3 };

export function recordKey(rec: TaskRecord): string {
  return `${rec.state}/${rec.attempt}/${rec.updatedAt}`;
}

export function seenOf(rec: TaskRecord): Seen {
  return { key: recordKey(rec), attempt: rec.attempt, phase: PHASE[rec.state], type: rec.type };
}

/** A record back in the queue after an attempt: lost to infrastructure, or retried after a failure. */
function requeueKind(rec: TaskRecord): TaskEventKind {
  const last = rec.history?.at(-1);
  if (last) return last.outcome === 'lost' ? 'lost' : 'retried';
  return rec.error && LOST_KINDS.includes(rec.error.kind) ? 'lost' : 'retried';
}

/**
 * When the retry after attempt `attempt` was made: its token (retriedAt: one for a whole bulk
 * retry, maybe earlier than the finish), never before that attempt's end.
 */
function retriedAt(rec: TaskRecord, attempt: number): number {
  const end = rec.history?.find((h) => h.attempt === attempt)?.endedAt;
  if (rec.retriedAt === undefined) return end ?? rec.updatedAt;
  return Math.max(rec.retriedAt, end ?? 0);
}

/** The history entry of the attempt the record's last move ended, if that move ended one. */
function endedNow(rec: TaskRecord): AttemptEntry | undefined {
  const last = rec.history?.at(-1);
  return last && last.attempt === rec.attempt && last.endedAt === rec.updatedAt ? last : undefined;
}

/**
 * The events of attempts that ended between two reads (a task requeued, even reassigned and
 * requeued again, before the feed read it again), from the record's history: each entry newer
 * than what `prev` showed gives its phases not shown and its end (retried or lost). The entry
 * of the record's own attempt is left to recordEvents (a finished record's, or a queued one's end).
 */
function historyEvents(prev: Seen, rec: TaskRecord, ev: (kind: TaskEventKind, state: TaskState, at: number, h?: AttemptEntry) => TaskEvent): TaskEvent[] {
  const out: TaskEvent[] = [];
  for (const h of rec.history ?? []) {
    if (h.attempt < prev.attempt || h.attempt > rec.attempt) continue;
    // prev queued after this attempt (its end shown), or finished: nothing of it left to show.
    if (h.attempt === prev.attempt && (prev.phase === 0 || prev.phase === 3)) continue;
    const own = h.attempt === rec.attempt;
    if (own && PHASE[rec.state] !== 0) continue;
    const shown = h.attempt === prev.attempt ? prev.phase : -1;
    if (shown < 1 && h.assignedAt !== undefined) out.push(ev('assigned', 'assigned', h.assignedAt, h));
    if (shown < 2 && h.startedAt !== undefined) out.push(ev('started', 'running', h.startedAt, h));
    if (!own) out.push(ev(h.outcome === 'lost' ? 'lost' : 'retried', 'queued', h.endedAt, h));
  }
  return out;
}

/**
 * The events `rec` makes after `prev` (none if it is the version seen already). `fill`: emit
 * the phases that no read showed, of attempts that ended since and of the current one (false
 * for a first, baseline read). `since`: when the feed opened; a task it first reads past queued
 * but created since was queued while the feed watched, so that phase is shown too.
 */
export function recordEvents(prev: Seen | undefined, rec: TaskRecord, fill: boolean, since?: number): TaskEvent[] {
  if (prev && prev.key === recordKey(rec)) return [];
  const ev = (kind: TaskEventKind, state: TaskState, at: number, h?: AttemptEntry, attempt?: number): TaskEvent => ({
    kind,
    id: rec.id,
    type: rec.type,
    state,
    attempt: h ? h.attempt : (attempt ?? rec.attempt),
    worker: h ? h.worker : rec.worker,
    at,
    record: rec,
  });
  const phase = PHASE[rec.state];
  // A dependent task waiting for its parents: nothing ran yet (its release shows as queued).
  if (phase < 0) return [ev('waiting', rec.state, rec.updatedAt)];
  const out: TaskEvent[] = [];
  // Seen finished, now a later attempt: an operator's retry (the only way out of a terminal
  // state), shown before the attempts it led to. A queued record of the same attempt says so itself.
  if (fill && prev && prev.phase === 3 && rec.attempt > prev.attempt) out.push(ev('retried', 'queued', retriedAt(rec, prev.attempt), undefined, prev.attempt));
  // Seen waiting, next read past its release (it ran since: an attempt; a waiting task failed or
  // cancelled has none): the release's queued first (at its notBefore: the release's time, or its runAt).
  // Never after its own first assignment (notBefore may be missing: updatedAt is later than it).
  if (fill && prev && prev.phase < 0 && phase > 0 && rec.attempt >= 1) out.push(ev('queued', 'queued', Math.min(rec.notBefore ?? rec.updatedAt, rec.updatedAt, rec.history?.[0]?.assignedAt ?? rec.assignedAt ?? Infinity), undefined, 0));
  if (fill && prev) out.push(...historyEvents(prev, rec, ev));
  if (fill && !prev && phase > 0 && rec.attempt <= 1 && since !== undefined && rec.createdAt >= since) out.push(ev('queued', 'queued', rec.createdAt, undefined, 0)); // before any attempt
  if (phase === 0) {
    // Queued by an operator's retry and not run since (whatever its last attempt's end was, a
    // loss past maxLost say): retried, however the reads fell.
    const retried = (prev?.phase === 3 && prev.attempt === rec.attempt) || (!!rec.retries && rec.attemptBase === rec.attempt);
    if (retried) out.push(ev('retried', rec.state, Math.max(rec.retriedAt ?? 0, rec.updatedAt)));
    else out.push(ev(rec.attempt === 0 ? 'queued' : requeueKind(rec), rec.state, rec.updatedAt));
    return out;
  }
  const shown = !prev ? -1 : prev.attempt === rec.attempt ? prev.phase : prev.attempt > rec.attempt ? 9 : -1;
  const ended = phase === 3 ? endedNow(rec) : undefined;
  // Times of the current attempt: a running record's own, a finished one's from the entry its finish wrote.
  const assignedAt = phase === 3 ? ended?.assignedAt : rec.assignedAt;
  const startedAt = phase === 3 ? ended?.startedAt : undefined;
  if (fill && shown < 1 && phase >= 2 && assignedAt !== undefined) out.push(ev('assigned', 'assigned', assignedAt));
  if (fill && shown < 2 && phase === 3 && startedAt !== undefined) out.push(ev('started', 'running', startedAt));
  out.push(ev(phase === 1 ? 'assigned' : phase === 2 ? 'started' : 'finished', rec.state, rec.updatedAt));
  return out;
}

/** The progress an assignment node's data holds, as an event (null: none, or not newer than `prev`'s). */
export function progressEvent(prev: Seen, id: string, member: string, data: Buffer): TaskEvent | null {
  const a = parseProgress(data);
  if (!a) return null;
  if (prev.progressAt !== undefined && a.progressAt <= prev.progressAt) return null;
  prev.progressAt = a.progressAt;
  return { kind: 'progress', id, type: prev.type, state: 'running', attempt: a.attempt, worker: member, at: a.progressAt, progress: a.progress };
}

/** An assignment node's progress, or null (none, or not readable). */
export function parseProgress(data: Buffer): { attempt: number; progress: unknown; progressAt: number } | null {
  let a: { attempt?: unknown; progress?: unknown; progressAt?: unknown };
  try {
    a = JSON.parse(data.toString('utf8')) as typeof a;
  } catch {
    return null;
  }
  if (a === null || typeof a !== 'object' || !('progress' in a) || typeof a.progressAt !== 'number' || typeof a.attempt !== 'number') return null;
  return { attempt: a.attempt, progress: a.progress, progressAt: a.progressAt };
}
