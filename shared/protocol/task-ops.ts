// Every task transition as the list of operations of ONE ZooKeeper multi (the transitions
// in transitions.ts send them, with the leader's fence in front, and read their verdicts):
//
//   submit   create task + create queue entry                       (client)
//   assign   remove queue entry + set task@v + create assignment    (leader, many per multi)
//   start    check assignment + set task@v                          (worker)
//   finish   remove assignment + set task@v + (queue entry | done entry)  (worker)
//   reclaim  remove assignment + set task@v + (queue entry | done entry)  (leader)
//   cancel   remove (queue entry | assignment | waiting entry) + set task@v + done entry  (anyone)
//   (the transitions of task dependencies: dag-ops.ts)
//   fail-malformed  remove (queue entry | assignment) + set stand-in@v + done entry
//   purge    remove done entry + remove task@v                      (leader: retention)
//
// The queue entry, assignment and done entry paths all follow from the record itself, so no
// transition needs a scan to find them. A worker's fence is its assignment node, whose name
// holds the attempt: a reclaimed or cancelled task lost that node, and a later assignment of
// the same task, even to the same worker name, has another attempt and so another name.
import type { Op } from '../zk/session.js';
import { Paths } from './paths.js';
import { DagPaths } from './dag-paths.js';
import type { TaskError, TaskRecord } from './task-record.js';
import { MAX_REQUEST_BYTES, encodeRecord, jsonBytes, malformedStandIn } from './task-record.js';
import { BATCH_LIMITS, RequestTooLargeError, assertFits, opsBytes } from './request-size.js';
import { cutMessage } from './messages.js';
import { assignTask, cancelTask, failAttempt, isTerminal, reclaimAttempt, rejectMalformed, startTask, succeedTask } from './task-state.js';

export interface VersionedRecord {
  record: TaskRecord;
  /** znode version of tasks/<shard>/<id> when read. */
  version: number;
}

export interface AssignmentData {
  attempt: number;
  epoch: number;
  assignedAt: number;
  /** Leader's backstop deadline (ms since epoch); null when the task has no timeout. */
  deadline: number | null;
  /** Bytes of the task record the assign wrote (encodeRecord of the assigned record): the
   *  worker can size its read of it (e.g. read big records alone) without a stat first. */
  recordBytes?: number;
}

export interface Transition {
  ops: Op[];
  next: TaskRecord;
}

/**
 * Records over this many bytes (as encodeRecord writes them) are "big": their queue entry's
 * name says so, and the leader reads them alone, so that a multiRead of records that are not
 * big (at most 32 of them: 512 KiB) stays far below jute.maxbuffer.
 */
export const BIG_RECORD_BYTES = 16 * 1024;

/** Where a queued record's queue entry is. The big marker is a function of the record's bytes
 *  (`bytes`: encodeRecord(rec).length when the caller has it), so it follows from the record. */
export function queueEntryOf(paths: Paths, rec: TaskRecord, bytes = encodeRecord(rec).length): string {
  return paths.queueEntry(rec.id, rec.priority, rec.notBefore ?? rec.createdAt, bytes > BIG_RECORD_BYTES);
}

/**
 * Whether `entryPath` is this queued record's entry: marked as its bytes say (`bytes`: the
 * record's size as stored, when the caller has it), or unmarked (a drover older than the
 * marker made it). False for a record that is not queued.
 */
export function isQueueEntryOf(paths: Paths, rec: TaskRecord, entryPath: string, bytes?: number): boolean {
  return rec.state === 'queued' && (queueEntryOf(paths, rec, bytes) === entryPath || unmarkedQueueEntryOf(paths, rec) === entryPath);
}

/** The entry a drover older than the big marker made for this record (never marked). */
export function unmarkedQueueEntryOf(paths: Paths, rec: TaskRecord): string {
  return paths.queueEntry(rec.id, rec.priority, rec.notBefore ?? rec.createdAt, false);
}

/** Where an assigned/running record's assignment node is. */
export function assignmentOf(paths: Paths, rec: TaskRecord): string {
  if (!rec.worker || rec.attempt < 1) throw new Error(`task ${rec.id} has no assignment (state ${rec.state})`);
  return paths.assignment(rec.worker, rec.id, rec.attempt);
}

/** Where a finished record's done entry is: named by when it finished (updatedAt for a record that has no finishedAt). */
export function doneEntryOf(paths: Paths, rec: TaskRecord): string {
  return paths.doneEntry(rec.id, rec.finishedAt ?? rec.updatedAt);
}

/** The index op that follows a record into its new state (`bytes`: the record as written). */
function indexOps(paths: Paths, next: TaskRecord, bytes: Buffer): Op[] {
  if (next.state === 'queued') return [{ op: 'create', path: queueEntryOf(paths, next, bytes.length) }];
  if (isTerminal(next.state)) return [{ op: 'create', path: doneEntryOf(paths, next) }];
  return [];
}

export function submitOps(paths: Paths, rec: TaskRecord): Op[] {
  const data = encodeRecord(rec);
  return [
    { op: 'create', path: paths.task(rec.id), data },
    { op: 'create', path: queueEntryOf(paths, rec, data.length) },
  ];
}

/** Assignment of a queued task (without the fence: a batch carries one fence for all). */
export function assignOps(
  paths: Paths,
  cur: VersionedRecord,
  queueEntryPath: string,
  member: string,
  epoch: number,
  now: number,
  graceMs: number,
): Transition & { assignment: AssignmentData } {
  const next = assignTask(cur.record, member, epoch, now);
  const record = encodeRecord(next);
  const data: AssignmentData = {
    attempt: next.attempt,
    epoch,
    assignedAt: now,
    deadline: next.timeoutMs > 0 ? now + next.timeoutMs + graceMs : null,
    recordBytes: record.length,
  };
  return {
    next,
    assignment: data,
    ops: [
      { op: 'remove', path: queueEntryPath },
      { op: 'setData', path: paths.task(next.id), data: record, version: cur.version },
      { op: 'create', path: paths.assignment(member, next.id, next.attempt), data: Buffer.from(JSON.stringify(data)) },
    ],
  };
}

export function startOps(paths: Paths, cur: VersionedRecord, now: number): Transition {
  const next = startTask(cur.record, now);
  return {
    next,
    ops: [
      { op: 'check', path: assignmentOf(paths, cur.record) },
      { op: 'setData', path: paths.task(next.id), data: encodeRecord(next), version: cur.version },
    ],
  };
}

export type Outcome = { kind: 'success'; result: unknown } | { kind: 'failure'; error: TaskError };

/** A worker's commit of its attempt: fenced by deleting its own assignment node. */
export function finishOps(paths: Paths, cur: VersionedRecord, outcome: Outcome, now: number): Transition {
  const next = outcome.kind === 'success' ? succeedTask(cur.record, outcome.result, now) : failAttempt(cur.record, outcome.error, now);
  const data = encodeRecord(next);
  return {
    next,
    ops: [
      { op: 'remove', path: assignmentOf(paths, cur.record) },
      { op: 'setData', path: paths.task(next.id), data, version: cur.version },
      ...indexOps(paths, next, data),
    ],
  };
}

/**
 * The leader takes an assignment back (worker gone, deadline passed). How it counts is the
 * state machine's (reclaimAttempt: a lost or never-started attempt uses up none and goes
 * back at once); `requeueNow` also skips the backoff of any other requeue.
 */
export function reclaimOps(paths: Paths, cur: VersionedRecord, error: TaskError, now: number, requeueNow: boolean): Transition {
  let next = reclaimAttempt(cur.record, error, now);
  if (requeueNow && next.state === 'queued') next = { ...next, notBefore: now };
  const data = encodeRecord(next);
  return {
    next,
    ops: [
      { op: 'remove', path: assignmentOf(paths, cur.record) },
      { op: 'setData', path: paths.task(next.id), data, version: cur.version },
      ...indexOps(paths, next, data),
    ],
  };
}

export function cancelOps(paths: Paths, cur: VersionedRecord, reason: string, now: number): Transition {
  const next = cancelTask(cur.record, reason, now);
  const held: Op =
    cur.record.state === 'queued'
      ? { op: 'remove', path: queueEntryOf(paths, cur.record) }
      : cur.record.state === 'waiting'
        ? { op: 'remove', path: new DagPaths(paths).waiting(cur.record.id) }
        : { op: 'remove', path: assignmentOf(paths, cur.record) };
  const data = encodeRecord(next);
  return {
    next,
    ops: [held, { op: 'setData', path: paths.task(next.id), data, version: cur.version }, ...indexOps(paths, next, data)],
  };
}

/**
 * A record that cannot be read (version `version`), found through a queue entry or behind an
 * assignment (`at`): its stand-in (queued, or assigned to that member and attempt) fails with the reason through the
 * state machine, in the multi that removes the index entry that led to it.
 */
export function failMalformedOps(
  paths: Paths,
  taskId: string,
  reason: string,
  version: number,
  at: { queueEntry: string } | { assignment: string; member: string; attempt: number },
  now: number,
): Transition {
  const standIn = 'assignment' in at ? malformedStandIn(taskId, now, { worker: at.member, attempt: at.attempt }) : malformedStandIn(taskId, now);
  const next = rejectMalformed(standIn, reason, now);
  const entry = 'assignment' in at ? at.assignment : at.queueEntry;
  const data = encodeRecord(next);
  return {
    next,
    ops: [{ op: 'remove', path: entry }, { op: 'setData', path: paths.task(taskId), data, version }, ...indexOps(paths, next, data)],
  };
}

/** A finished task's done entry and record, removed (the record at `version`; -1: any). */
export function purgeOps(paths: Paths, taskId: string, doneEntryPath: string, version: number): Op[] {
  return [
    { op: 'remove', path: doneEntryPath },
    { op: 'remove', path: paths.task(taskId), version },
  ];
}

export { opsBytes, MAX_REQUEST_BYTES, BATCH_LIMITS, RequestTooLargeError, assertFits };

/** What a finish cut for size: the result (the task fails too-large), or the error's message; `bytes`: the finish's size uncut. */
export interface FinishCut {
  bytes: number;
  what: 'result' | 'message';
}

/** Shortest an error message is cut to when a failure's finish does not fit with a longer one. */
const SHORT_MESSAGE_CHARS = 256;

/**
 * finishOps, sized before it is sent: a finish too large for one request would cost the
 * connection again and again. A success that does not fit (the record would hold both a large
 * payload and a large result) fails the task as too-large instead, its result cut out; a
 * failure's message is cut (cutMessage), shorter still if the finish does not fit with it.
 * `cut` says the sizes when something was cut for size.
 */
export function fittedFinishOps(paths: Paths, cur: VersionedRecord, outcome: Outcome, now: number): Transition & { cut?: FinishCut } {
  if (outcome.kind === 'failure') return fittedFailure(paths, cur, outcome.error, now);
  const tr = finishOps(paths, cur, outcome, now);
  const bytes = opsBytes(tr.ops);
  if (bytes <= MAX_REQUEST_BYTES) return tr;
  const message =
    `task ${cur.record.id}: its record with payload (${jsonBytes(cur.record.payload)} bytes) and result (${jsonBytes(outcome.result)} bytes) ` +
    `would be a ${bytes}-byte write, over ZooKeeper's ${MAX_REQUEST_BYTES}-byte request limit (jute.maxbuffer); result not stored`;
  return { ...fittedFailure(paths, cur, { kind: 'too-large', retryable: false, message }, now), cut: { bytes, what: 'result' } };
}

function fittedFailure(paths: Paths, cur: VersionedRecord, error: TaskError, now: number): Transition & { cut?: FinishCut } {
  const tr = finishOps(paths, cur, { kind: 'failure', error: { ...error, message: cutMessage(String(error.message)) } }, now);
  const bytes = opsBytes(tr.ops);
  if (bytes <= MAX_REQUEST_BYTES) return tr;
  const short = finishOps(paths, cur, { kind: 'failure', error: { ...error, message: cutMessage(String(error.message), SHORT_MESSAGE_CHARS) } }, now);
  return { ...assertFits(short, `task ${cur.record.id}: the finish of attempt ${cur.record.attempt}`), cut: { bytes, what: 'message' } };
}

export { Paths };
