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
 * running, or a rejection (queued → failed: a malformed record's stand-in, attempt 0).
 */
export function endsAttempt(from: TaskState, to: TaskState): boolean {
  if (from === 'assigned' || from === 'running') return to !== 'running';
  return from === 'queued' && to === 'failed';
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

/** Why a stored history is malformed, or null if it is fine (absent: written by an older drover). */
export function historyProblem(h: unknown): string | null {
  if (h === undefined) return null;
  if (!Array.isArray(h)) return 'is not a list';
  for (let i = 0; i < h.length; i++) {
    const e = h[i] as Record<string, unknown> | null;
    const bad = (what: string) => `entry ${i} ${what}`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) return bad('is not an object');
    if (typeof e.attempt !== 'number' || !Number.isInteger(e.attempt) || e.attempt < 0) return bad('has a bad attempt');
    if (e.worker !== null && typeof e.worker !== 'string') return bad('has a bad worker');
    if (typeof e.endedAt !== 'number' || !Number.isFinite(e.endedAt)) return bad('has a bad endedAt');
    if (!optNumber(e.assignedAt) || !optNumber(e.startedAt)) return bad('has a bad start time');
    if (!ATTEMPT_OUTCOMES.includes(e.outcome as AttemptOutcome)) return bad(`has unknown outcome ${JSON.stringify(e.outcome)}`);
    const err = e.error as Record<string, unknown> | undefined | null;
    if (err !== undefined && (err === null || typeof err !== 'object' || typeof err.message !== 'string' || typeof err.kind !== 'string')) return bad('has a bad error');
  }
  return null;
}
