// The attempt history a record keeps: one entry per ended attempt, oldest first, bounded in
// count (MAX_HISTORY) and in bytes (MAX_HISTORY_BYTES) so that RECORD_ROOM_BYTES holds
// whatever the errors were. The state machine (task-state.ts `move`) appends the entry in the
// transition that ends the attempt, so it is written by the same multi as the record.
// Imports types only from task-record.ts (which re-exports the constants): no import cycle.
import { cutMessage } from './messages.js';
import type { AttemptEntry, AttemptOutcome, TaskError, TaskRecord } from './task-record.js';
import type { TaskState } from './task-state.js';

/** Entries kept (the newest). */
export const MAX_HISTORY = 10;
/** A handler error's stack is kept this long, in the record and in its attempt history. */
export const MAX_STACK_CHARS = 2048;
/** An entry's error message is cut to this. */
export const MAX_HISTORY_MESSAGE_CHARS = 1024;
/**
 * The history as JSON is at most this long: older entries go first. One entry at its worst
 * (1 024 + 2 048 characters, each JSON-escaped to 6 bytes, plus ~300 of fields) is ~19 KB, so
 * the newest always fits; ten handler failures with 2 KB ASCII stacks (~3.4 KB each) fit too.
 */
export const MAX_HISTORY_BYTES = 40 * 1024;

export const ATTEMPT_OUTCOMES: readonly AttemptOutcome[] = ['succeeded', 'failed', 'lost', 'cancelled'];

/** `e` with its message and stack cut for keeping (cutMessage's note says how long they were). */
export function boundedError(e: TaskError, messageChars: number): TaskError {
  const out: TaskError = { ...e, message: cutMessage(String(e.message), messageChars) };
  if (typeof e.stack === 'string') out.stack = cutMessage(e.stack, MAX_STACK_CHARS);
  else delete out.stack;
  return out;
}

/**
 * Whether moving `from` → `to` ends an attempt: leaving assigned/running for anything but
 * running. A queued record failed (a malformed record's stand-in) ends none: nothing ran, and
 * the attempt it came back from, if any, has its entry already.
 */
export function endsAttempt(from: TaskState, to: TaskState): boolean {
  return (from === 'assigned' || from === 'running') && to !== 'running';
}

/** The entry of the attempt `left` (the record being left) ends as `outcome`, with `next`'s error. */
export function attemptEntry(left: TaskRecord, outcome: AttemptOutcome, error: TaskError | undefined, now: number): AttemptEntry {
  const e: AttemptEntry = { attempt: left.attempt, worker: left.worker, endedAt: now, outcome };
  if (left.assignedAt !== undefined) e.assignedAt = left.assignedAt;
  if (left.state === 'running' && left.startedAt !== undefined) e.startedAt = left.startedAt;
  if (error && outcome !== 'succeeded') e.error = boundedError(error, MAX_HISTORY_MESSAGE_CHARS);
  return e;
}

/** `history` plus `entry`, the newest MAX_HISTORY within MAX_HISTORY_BYTES (the newest always kept). */
export function appendHistory(history: readonly AttemptEntry[] | undefined, entry: AttemptEntry): AttemptEntry[] {
  const out = [...(history ?? []), entry].slice(-MAX_HISTORY);
  let bytes = Buffer.byteLength(JSON.stringify(out), 'utf8');
  while (out.length > 1 && bytes > MAX_HISTORY_BYTES) {
    // Each entry costs its JSON and one comma.
    bytes -= Buffer.byteLength(JSON.stringify(out.shift()), 'utf8') + 1;
  }
  return out;
}

const optNumber = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v));

/** Why a stored history entry cannot be read, or null if it can. */
export function entryProblem(e: unknown): string | null {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return 'is not an object';
  const r = e as Record<string, unknown>;
  if (typeof r.attempt !== 'number' || !Number.isInteger(r.attempt) || r.attempt < 0) return 'has a bad attempt';
  if (r.worker !== null && typeof r.worker !== 'string') return 'has a bad worker';
  if (typeof r.endedAt !== 'number' || !Number.isFinite(r.endedAt)) return 'has a bad endedAt';
  if (!optNumber(r.assignedAt) || !optNumber(r.startedAt)) return 'has a bad start time';
  if (!ATTEMPT_OUTCOMES.includes(r.outcome as AttemptOutcome)) return 'has an unknown outcome';
  const err = r.error as Record<string, unknown> | undefined | null;
  if (err !== undefined && (err === null || typeof err !== 'object' || typeof err.message !== 'string' || typeof err.kind !== 'string')) return 'has a bad error';
  return null;
}

/**
 * The entries of a stored history that can be read (absent: written by an older drover, or
 * nothing readable). The history only tells what happened: an entry this drover cannot read
 * (an outcome from a later drover, say) is dropped, never a reason to refuse the record, and
 * the record decoded without it is what a later write stores.
 */
export function readableHistory(h: unknown): AttemptEntry[] | undefined {
  if (!Array.isArray(h)) return undefined;
  const ok = h.filter((e) => entryProblem(e) === null) as AttemptEntry[];
  return ok.length > 0 ? ok : undefined;
}
