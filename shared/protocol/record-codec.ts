// A task record's stored form: its JSON bytes, checked when read (a MalformedRecordError
// names what is off), and the stand-in for a record whose bytes cannot be read.
import { readableHistory } from './attempt-history.js';
import type { TaskState } from './task-state.js';
import { TASK_STATES } from './task-state.js';
import { DEFAULT_BACKOFF, MalformedRecordError, RECORD_FORMAT, type TaskRecord } from './task-record.js';

export function encodeRecord(rec: TaskRecord): Buffer {
  return Buffer.from(JSON.stringify(rec), 'utf8');
}

/** Parses and checks a stored record; anything off is a MalformedRecordError naming what. */
export function decodeRecord(data: Buffer, expectedId?: string): TaskRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new MalformedRecordError(`task record is not JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new MalformedRecordError('task record is not an object');
  const r = raw as Record<string, unknown>;
  const fail = (what: string) => {
    throw new MalformedRecordError(`task record ${what}`);
  };
  if (r.format !== RECORD_FORMAT) fail(`has format ${JSON.stringify(r.format)}, expected ${RECORD_FORMAT}`);
  if (typeof r.id !== 'string') fail('has no id');
  if (expectedId !== undefined && r.id !== expectedId) fail(`id ${JSON.stringify(r.id)} does not match its znode ${expectedId}`);
  if (typeof r.type !== 'string') fail('has no type');
  if (!TASK_STATES.includes(r.state as TaskState)) fail(`has unknown state ${JSON.stringify(r.state)}`);
  for (const k of ['priority', 'maxAttempts', 'timeoutMs', 'createdAt', 'attempt', 'updatedAt']) {
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) fail(`field ${k} is not a number`);
  }
  // Optional: records written before they existed have none of them (a drover older than
  // retry ignores attemptBase/retries: it only counts the retried task's budget as spent).
  for (const k of ['lost', 'maxLost', 'attemptBase', 'retries']) {
    if (r[k] !== undefined && (typeof r[k] !== 'number' || !Number.isInteger(r[k]) || (r[k] as number) < 0)) fail(`field ${k} is not a count`);
  }
  if (typeof r.attemptBase === 'number' && r.attemptBase > (r.attempt as number)) fail('field attemptBase is past its attempt');
  if (r.retriedAt !== undefined && (typeof r.retriedAt !== 'number' || !Number.isFinite(r.retriedAt))) fail('field retriedAt is not a number');
  const bo = r.backoff as Record<string, unknown> | undefined;
  if (!bo || typeof bo.initialMs !== 'number' || typeof bo.factor !== 'number' || typeof bo.maxMs !== 'number') fail('has a bad backoff');
  if (r.labels === null || typeof r.labels !== 'object') fail('has bad labels');
  // An unreadable history is dropped, not the record (attempt-history.ts readableHistory).
  if ('history' in r) {
    const h = readableHistory(r.history);
    if (h) r.history = h;
    else delete r.history;
  }
  return raw as TaskRecord;
}

/**
 * A minimal valid record standing for one whose stored bytes could not be read, in the state
 * the index that led to it says: queued (a queue entry), or assigned to `held.worker` as
 * attempt `held.attempt` (an assignment node). It is failed through the state machine like
 * any record (task-state's rejectMalformed: queued → failed, assigned → failed).
 */
export function malformedStandIn(id: string, now = Date.now(), held?: { worker: string; attempt: number }): TaskRecord {
  return {
    format: RECORD_FORMAT,
    id,
    type: 'unknown',
    payload: null,
    priority: 0,
    maxAttempts: 1,
    backoff: DEFAULT_BACKOFF,
    timeoutMs: 0,
    labels: {},
    createdAt: now,
    state: held ? 'assigned' : 'queued',
    attempt: held?.attempt ?? 0,
    worker: held?.worker ?? null,
    epoch: null,
    updatedAt: now,
  };
}
