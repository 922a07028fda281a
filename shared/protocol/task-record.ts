// The task record: what lives in tasks/<shard>/<id>. One JSON document with a format version,
// the immutable spec given at submit, and the mutable part each transition rewrites.
import { checkDependsOn, type DependsOn, type OnParentFailure } from './dag-input.js';
import { jsonBytes } from '../util/json-size.js';
import { assertTaskId } from './paths.js';
import { PayloadTooLargeError, TaskValidationError } from './record-errors.js';
import type { TaskState } from './task-state.js';
import type { SizeLimits } from './record-limits.js';
import { DEFAULT_LIMITS, MAX_LABELS_BYTES } from './record-limits.js';

export const RECORD_FORMAT = 1;

// The size caps a record and its requests keep (record-limits.ts), here for every importer.
export { checkLimits, DEFAULT_LIMITS, HARD_SIZE_CAP, MAX_LABELS_BYTES, MAX_REQUEST_BYTES, RECORD_ROOM_BYTES, ZK_MAX_REQUEST_BYTES, type SizeLimits } from './record-limits.js';

export type { DependsOn, OnParentFailure } from './dag-input.js';
export { jsonBytes } from '../util/json-size.js';

// The errors its rules throw live in record-errors.ts (no import back: no cycle).
export { MalformedRecordError, PayloadTooLargeError, TaskValidationError } from './record-errors.js';

export interface Backoff {
  /** Delay before the second attempt. */
  initialMs: number;
  /** Multiplier per further attempt. */
  factor: number;
  /** Upper bound of one delay. */
  maxMs: number;
}

export type TaskErrorKind =
  | 'handler' // the handler threw
  | 'timeout' // the attempt ran past timeoutMs
  | 'unknown-type' // no handler for the type on the worker it reached (counted as lost)
  | 'malformed' // the record in ZooKeeper could not be parsed
  | 'worker-lost' // its worker or session went, it was withdrawn or drained, or it never started
  | 'too-large' // the result exceeded the size cap
  | 'dependency-failed' // a parent it depends on failed or was cancelled (dag-state.ts)
  | 'cancelled';

export interface TaskError {
  message: string;
  kind: TaskErrorKind;
  retryable: boolean;
  /** The handler's stack, cut to MAX_STACK_CHARS (absent for errors that are not a handler's). */
  stack?: string;
}

// The bounds of the history (and of a kept stack) live with its rules, in attempt-history.ts.
export { MAX_HISTORY, MAX_STACK_CHARS } from './attempt-history.js';

/** How one attempt ended, as the attempt history keeps it. */
export type AttemptOutcome = 'succeeded' | 'failed' | 'lost' | 'cancelled';

/** One attempt of a task, kept with the record (the last MAX_HISTORY of them, oldest first). */
export interface AttemptEntry {
  attempt: number;
  /** Member name (workerId~incarnation) that held it; null if it was never assigned. */
  worker: string | null;
  assignedAt?: number;
  startedAt?: number;
  endedAt: number;
  outcome: AttemptOutcome;
  /** Why it failed or was lost: message cut to 1 024 characters, stack to MAX_STACK_CHARS. */
  error?: TaskError;
}

export interface TaskSpec {
  id: string;
  type: string;
  payload: unknown;
  /** 0..9999; higher runs first. */
  priority: number;
  /** Attempts that may fail on their own merits (attempts lost to infrastructure do not count). */
  maxAttempts: number;
  /** Attempts that may be lost to infrastructure before the task fails; absent = DEFAULT_MAX_LOST. */
  maxLost?: number;
  backoff: Backoff;
  /** Per-attempt time limit; 0 = none. */
  timeoutMs: number;
  /** A worker must carry every one of these labels (k=v) to get the task. */
  labels: Record<string, string>;
  createdAt: number;
  /** A delayed task's asked-for start (delayMs/runAt at submit), ms since the epoch; absent = at once. */
  runAt?: number;
  /** Its dependencies: how many parents, and what a parent's failure does. The ids are not here
   *  (a fan-in of 10 000 would make every rewrite of the record ~MBs): dag/parents (dag-paths.ts). */
  dependsOn?: DependsOn;
}

export interface TaskRecord extends TaskSpec {
  format: typeof RECORD_FORMAT;
  state: TaskState;
  /** Attempts started so far (0 while never assigned); the current one when assigned/running. */
  attempt: number;
  /** How many of those attempts were lost to infrastructure (absent = 0, as in older records). */
  lost?: number;
  /** `attempt` when the task was last retried (retryTask): the budget counts from there (absent = 0). */
  attemptBase?: number;
  /** Times it was queued again by a retry, and when last (absent: never). */
  retries?: number;
  retriedAt?: number;
  /** Member name (workerId~incarnation) holding or last holding the task. */
  worker: string | null;
  /** Election sequence of the leader that made the current/last assignment. */
  epoch: number | null;
  updatedAt: number;
  assignedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  /** Set while queued and held back: a delayed task's runAt, or after a failure the backoff's end. */
  notBefore?: number;
  result?: unknown;
  error?: TaskError;
  /** Past attempts, oldest first, at most MAX_HISTORY (absent in older records). */
  history?: AttemptEntry[];
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, factor: 2, maxMs: 60_000 };
export const DEFAULT_MAX_LOST = 10;

export interface SubmitInput {
  type: string;
  payload?: unknown;
  id?: string;
  priority?: number;
  maxAttempts?: number;
  /** Attempts lost to infrastructure before the task fails as worker-lost. Default 10. */
  maxLost?: number;
  backoff?: Partial<Backoff>;
  timeoutMs?: number;
  labels?: Record<string, string>;
  /** Start no earlier than this many ms after the submission (0..MAX_DELAY_MS). Not with runAt. */
  delayMs?: number;
  /** Start no earlier than this (ms since the epoch, or a Date; at most MAX_DELAY_MS ahead).
   *  Now or in the past: the task runs at once, as without it. Not with delayMs. */
  runAt?: number | Date;
  /** Ids of tasks (existing, or earlier in the same submitMany) that must succeed first: it waits
   *  (state waiting) until then. At most MAX_PARENTS, no duplicates, not itself. Empty: none. */
  dependsOn?: readonly string[];
  /** What a parent's failure or cancel does: 'fail' (default) fails it as dependency-failed, 'run' runs it anyway. */
  onParentFailure?: OnParentFailure;
}

/** The longest delay a submission may ask for (delayMs, or runAt from now): 365 days. */
export const MAX_DELAY_MS = 365 * 86_400_000;

function intIn(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new TaskValidationError(field, `${field} must be an integer in ${min}..${max}, got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`);
  }
  return v;
}


let idCounter = 0;
/** Time-sortable, unique enough across processes: ms time, pid, counter, random. */
export function newTaskId(now = Date.now()): string {
  idCounter = (idCounter + 1) % 1_679_616;
  const rnd = Math.floor(Math.random() * 1_679_616);
  return `t${now.toString(36)}${process.pid.toString(36)}${idCounter.toString(36).padStart(4, '0')}${rnd.toString(36).padStart(4, '0')}`;
}

/** What a task type may be: 1-100 characters of A-Z a-z 0-9 _ . : / - (submissions, pause --type). */
export const TASK_TYPE_RE = /^[A-Za-z0-9_.:/-]{1,100}$/;

/** Validates a submission and returns the record to create (state queued). */
export function newTaskRecord(input: SubmitInput, limits: SizeLimits = DEFAULT_LIMITS, now = Date.now()): TaskRecord {
  if (input === null || typeof input !== 'object') throw new TaskValidationError('task', 'a task must be an object');
  const id = input.id ?? newTaskId(now);
  assertTaskId(id);
  if (typeof input.type !== 'string' || !TASK_TYPE_RE.test(input.type)) {
    throw new TaskValidationError('type', `type must be 1-100 characters of A-Z a-z 0-9 _ . : / -, got ${JSON.stringify(input.type)}`);
  }
  const payload = input.payload === undefined ? null : input.payload;
  let bytes: number;
  try {
    bytes = jsonBytes(payload);
  } catch (err) {
    throw new TaskValidationError('payload', `payload is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (bytes > limits.maxPayloadBytes) throw new PayloadTooLargeError('payload', bytes, limits.maxPayloadBytes, id);
  const b = { ...DEFAULT_BACKOFF, ...(input.backoff ?? {}) };
  const backoff: Backoff = {
    initialMs: intIn('backoff.initialMs', b.initialMs, 0, 86_400_000),
    factor: typeof b.factor === 'number' && b.factor >= 1 && b.factor <= 100 ? b.factor : badFactor(b.factor),
    maxMs: intIn('backoff.maxMs', b.maxMs, 0, 86_400_000),
  };
  const labels = input.labels ?? {};
  if (typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
    throw new TaskValidationError('labels', 'labels must be an object of string values');
  }
  const labelBytes = jsonBytes(labels);
  if (labelBytes > MAX_LABELS_BYTES) throw new TaskValidationError('labels', `labels are ${labelBytes} bytes as JSON, over the ${MAX_LABELS_BYTES}-byte limit`);
  const runAt = startTime(input, now);
  const dependsOn = checkDependsOn(input, id);
  return {
    format: RECORD_FORMAT,
    id,
    type: input.type,
    payload,
    priority: intIn('priority', input.priority ?? 0, 0, 9999),
    maxAttempts: intIn('maxAttempts', input.maxAttempts ?? 3, 1, 1000),
    maxLost: intIn('maxLost', input.maxLost ?? DEFAULT_MAX_LOST, 0, 1000),
    backoff,
    timeoutMs: intIn('timeoutMs', input.timeoutMs ?? 0, 0, 7 * 86_400_000),
    labels: { ...labels },
    createdAt: now,
    state: dependsOn ? 'waiting' : 'queued',
    attempt: 0,
    lost: 0,
    worker: null,
    epoch: null,
    updatedAt: now,
    // Held back from the start: the queue entry's name carries notBefore, and the leader keeps
    // such entries aside until due, woken by a timer (master/queue-index.ts), across failovers.
    // A waiting task gets its notBefore when released (dag-state.ts releaseTask).
    ...(runAt === undefined ? {} : dependsOn ? { runAt } : { runAt, notBefore: runAt }),
    ...(dependsOn ? { dependsOn } : {}),
  };
}


/**
 * When a delayed submission may start (ms since the epoch), or undefined for at once.
 * Which clock: this runs in the submitting process, by its clock; the leader holds the task
 * until ITS clock passes the time. So the start is exact only up to the skew between the two
 * hosts (a leader whose clock is s ms ahead starts it s ms early by the submitter's clock;
 * one behind, late), plus the leader's wake-up and round (ms) and the worker's pick-up.
 */
function startTime(input: SubmitInput, now: number): number | undefined {
  const { delayMs, runAt } = input;
  if (delayMs !== undefined && runAt !== undefined) throw new TaskValidationError('runAt', 'give delayMs or runAt, not both');
  if (delayMs !== undefined) {
    const d = intIn('delayMs', delayMs, 0, MAX_DELAY_MS);
    return d > 0 ? now + d : undefined;
  }
  if (runAt === undefined) return undefined;
  const at = runAt instanceof Date ? runAt.getTime() : runAt;
  if (typeof at !== 'number' || !Number.isFinite(at)) {
    throw new TaskValidationError('runAt', `runAt must be ms since the epoch or a valid Date, got ${runAt instanceof Date ? 'an invalid Date' : JSON.stringify(runAt)}`);
  }
  if (at - now > MAX_DELAY_MS) {
    throw new TaskValidationError('runAt', `runAt ${new Date(at).toISOString()} is more than ${MAX_DELAY_MS / 86_400_000} days ahead`);
  }
  // Rounded up: never earlier than asked. Now or past: at once (queued by createdAt, in order).
  return at > now ? Math.ceil(at) : undefined;
}

function badFactor(v: unknown): never {
  throw new TaskValidationError('backoff.factor', `backoff.factor must be a number in 1..100, got ${JSON.stringify(v)}`);
}

/** Delay after the n-th counted attempt failed (lost attempts do not grow it). */
export function backoffDelay(rec: Pick<TaskRecord, 'backoff' | 'attempt' | 'lost' | 'attemptBase'>): number {
  const { initialMs, factor, maxMs } = rec.backoff;
  return Math.min(maxMs, Math.round(initialMs * factor ** Math.max(0, rec.attempt - (rec.lost ?? 0) - (rec.attemptBase ?? 0) - 1)));
}

// The stored bytes of a record (and its stand-in when they cannot be read) live in record-codec.ts.
export { decodeRecord, encodeRecord, malformedStandIn } from './record-codec.js';
