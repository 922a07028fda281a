// A worker's commit of an attempt's outcome: its finish, fenced by removing its own assignment
// node (in a group commit with the others that finish meanwhile: finish-batcher.ts), retried
// only while the task is still ours. A refused or unknown commit (connection loss) is verified
// by reading back before it is sent again.
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import { MAX_REQUEST_BYTES, RequestTooLargeError, type Outcome, type VersionedRecord } from '../shared/protocol/task-ops.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import { failMalformedAssigned, holdsAttempt, type FinishVerdict, type HeldAttempt } from '../shared/protocol/transitions.js';
import { sleep } from '../shared/util/coalescer.js';
import { ZkError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { RETRY_LEFT_MS, type Attempt } from './attempt.js';
import type { VerifyReads } from './verify-reads.js';

export interface CommitContext {
  session: ZkSession;
  paths: Paths;
  /** True once the worker stops: commits stop retrying. */
  stopping(): boolean;
  /** Sends one finish: the worker's group commit (finish-batcher.ts). */
  send(cur: VersionedRecord, outcome: Outcome, now: number): Promise<FinishVerdict>;
  /** The read-backs of unknown commits, batched (verify-reads.ts). */
  reads: VerifyReads;
}

export type CommitResult =
  /** `record`: as the commit wrote it (its result, or its error as cut to fit). */
  | { kind: 'committed'; state: TaskState; record: TaskRecord }
  /** `cancelled`: the record says the task was cancelled, with this reason. */
  | { kind: 'fenced'; reason: string; cancelled?: string }
  /** Refused again and again: look at the assignment again later. */
  | { kind: 'left' }
  /** The worker stopped (or its session closed) before the commit was confirmed: `reason` says which (the attempt's end line tells it). */
  | { kind: 'abandoned'; reason: string };

type Verdict = 'committed' | 'retry' | 'give-up' | { fenced: string };

const STOPPED = 'the worker stopped before the commit was confirmed; left to the leader';
const SESSION_CLOSED = 'the session closed before the commit was confirmed; left to the leader';

export async function commitAttempt(ctx: CommitContext, a: Attempt, outcome: Outcome): Promise<CommitResult> {
  const r = await tryCommit(ctx, a, outcome);
  return r.kind === 'fenced' ? withCancelReason(ctx, a, r) : r;
}

/**
 * An attempt aborted because its assignment is gone (withdrawn): a finish would only be
 * refused by that missing node, its fence, so none is sent. Fenced, and the record (read in
 * the batched reads) says whether a cancel was why.
 */
export function withdrawnAttempt(ctx: CommitContext, a: Attempt): Promise<CommitResult> {
  return withCancelReason(ctx, a, { kind: 'fenced', reason: 'assignment withdrawn while it ran (taken back); no commit sent' });
}

async function withCancelReason(ctx: CommitContext, a: Attempt, r: CommitResult & { kind: 'fenced' }): Promise<CommitResult> {
  const now = await ctx.reads.record(a.taskId, a.cur.record).catch(() => null);
  return now?.kind === 'ok' && now.record.state === 'cancelled' ? { ...r, cancelled: now.record.error?.message ?? 'cancelled' } : r;
}

async function tryCommit(ctx: CommitContext, a: Attempt, outcome: Outcome): Promise<CommitResult> {
  let refusals = 0;
  const refusedAgain = (err: Error) => {
    if (++refusals <= 5) return false;
    a.log.error({ err: err.message }, `commit refused repeatedly; looking again in ${RETRY_LEFT_MS} ms`);
    return true;
  };
  for (;;) {
    if (ctx.stopping()) return { kind: 'abandoned', reason: STOPPED };
    let v: FinishVerdict;
    try {
      v = await ctx.send(a.cur, outcome, Date.now());
    } catch (err) {
      // Cannot fit one request whatever is cut (not expected: the record was written before).
      if (err instanceof RequestTooLargeError) {
        a.log.error({ err: err.message }, `commit cannot be sent; looking again in ${RETRY_LEFT_MS} ms`);
        return { kind: 'left' };
      }
      // Neither applied nor refused by a node of the task (the session closed under us, say).
      if (!(err instanceof ZkError)) throw err;
      if (ctx.session.state === 'closed') return { kind: 'abandoned', reason: SESSION_CLOSED };
      if (refusedAgain(err)) return { kind: 'left' };
      // Each try at debug: the attempt's end line (or the error above) says how it came out.
      a.log.debug({ err: err.message }, 'commit failed; trying again');
      continue;
    }
    if (v.cut?.what === 'result') a.log.warn({ bytes: v.cut.bytes, limit: MAX_REQUEST_BYTES }, 'outcome too large for one ZooKeeper request; failing the task as too-large');
    else if (v.cut) a.log.warn({ bytes: v.cut.bytes, limit: MAX_REQUEST_BYTES }, 'failure too large for one ZooKeeper request; its message cut shorter');
    if (v.kind === 'committed') return { kind: 'committed', state: v.next.state, record: v.next };
    if (v.kind === 'fenced') return { kind: 'fenced', reason: 'assignment gone (cancelled or reclaimed)' };
    const unknownOutcome = v.kind === 'unknown';
    if (!unknownOutcome && refusedAgain(v.error)) return { kind: 'left' };
    a.log.debug({ err: v.error.message, ...(v.kind === 'moved' ? { part: v.part } : {}) }, unknownOutcome ? 'commit outcome unknown; checking' : 'commit refused; checking');
    const r = await verify(ctx, a, v.next);
    if (r === 'committed') return { kind: 'committed', state: v.next.state, record: v.next };
    if (r === 'give-up') return { kind: 'abandoned', reason: ctx.stopping() ? STOPPED : SESSION_CLOSED };
    if (r !== 'retry') return { kind: 'fenced', reason: r.fenced };
  }
}

/** After a refused or unknown commit: has it happened, is the task still ours, or are we fenced? */
async function verify(ctx: CommitContext, a: Attempt, next: TaskRecord): Promise<Verdict> {
  const session = ctx.session;
  for (;;) {
    if (ctx.stopping() || session.state === 'closed') return 'give-up';
    try {
      await ctx.reads.connected();
      const { read, assigned } = await ctx.reads.read(a, next);
      if (read.kind !== 'ok') return { fenced: `task record is ${read.kind}` };
      if (!assigned && JSON.stringify(read.record) === JSON.stringify(next)) return 'committed';
      if (!assigned) return { fenced: 'assignment gone (cancelled or reclaimed)' };
      if (!holdsAttempt(read.record, a.member, a.attempt)) {
        return { fenced: `record now ${read.record.state}, attempt ${read.record.attempt}, worker ${read.record.worker}` };
      }
      a.cur = { record: read.record, version: read.version };
      return 'retry';
    } catch (err) {
      a.log.debug({ err: (err as Error).message }, 'waiting for ZooKeeper to confirm the commit');
      await sleep(200);
    }
  }
}

/**
 * An assignment whose record does not parse cannot run: fail it with the reason, fenced by
 * our assignment like any commit. `unknown`: connection or session lost; `gone`: our
 * assignment went first; `refused`: the record moved meanwhile.
 */
export async function failMalformed(
  session: ZkSession,
  paths: Paths,
  held: HeldAttempt,
  reason: string,
  version: number,
  log: Logger,
): Promise<'committed' | 'unknown' | 'gone' | 'refused'> {
  try {
    const v = await failMalformedAssigned({ session, paths }, held, reason, version);
    if (v.kind === 'committed') {
      log.warn({ reason }, 'malformed task record failed');
      return 'committed';
    }
    log.warn({ err: v.error.message, reason }, 'cannot fail a malformed task record');
    return v.kind === 'fenced' ? 'gone' : v.kind === 'unknown' ? 'unknown' : 'refused';
  } catch (err) {
    log.warn({ err: (err as Error).message, reason }, 'cannot fail a malformed task record');
    return 'refused';
  }
}
