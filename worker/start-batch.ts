// Marking attempts running: one multi for a burst of assignments (as many as fit one request).
// A multi is all-or-nothing and a refusal names its one bad item: that item gets its own
// verdict (fenced: its assignment is gone, stale; moved: its record changed under us, read
// back and tried alone) and the rest go again together from there, so K bad items cost K+1
// multis. An unknown outcome (connection loss) is verified by one batched read of the
// chunk's records (VerifyReads); what is still to start then goes again together.
import type { Logger } from '../shared/log.js';
import { holdsAttempt, start, startBatch, type Tx } from '../shared/protocol/transitions.js';
import type { Attempt } from './attempt.js';
import type { VerifyReads } from './verify-reads.js';

/** How one attempt's start ended: `unreadable` = try again soon, `stuck` = refused 3 times. */
export type StartVerdict = 'started' | 'stale' | 'unreadable' | 'stuck';

export interface StartContext {
  tx: Tx;
  /** Batched read-backs (verify-reads.ts). */
  reads: VerifyReads;
  log: Logger;
}

/** Unknown outcomes in a row before what is left is given up for now (`unreadable`: looked at again soon). */
const UNKNOWN_ROUNDS = 3;

/** Marks `list` running in multis that each fit in one request; returns each attempt's verdict, in order. */
export async function markStarted(ctx: StartContext, list: Attempt[]): Promise<StartVerdict[]> {
  const out = new Array<StartVerdict>(list.length);
  /** Indices into `list` still to start, in order. */
  let todo = list.map((_, i) => i);
  /** To start one by one (the last one left, or one whose record moved: read back first). */
  const alone: Array<{ i: number; readFirst: boolean }> = [];
  let unknowns = 0;
  while (todo.length > 0) {
    if (todo.length === 1) {
      alone.push({ i: todo[0]!, readFirst: false });
      break;
    }
    let v: Awaited<ReturnType<typeof startBatch>>;
    try {
      v = await startBatch(ctx.tx, todo.map((i) => list[i]!.cur), 0);
    } catch (err) {
      // Neither applied nor refused (the session closed, say): look again soon.
      ctx.log.debug({ err: (err as Error).message, count: todo.length }, 'batched start failed');
      for (const i of todo) out[i] = 'unreadable';
      break;
    }
    const chunk = todo.slice(0, v.taken);
    const rest = todo.slice(v.taken);
    if (v.kind === 'committed') {
      ctx.log.debug({ count: chunk.length, left: rest.length }, `start batch: ${chunk.length} marked running in one multi`);
      chunk.forEach((i, k) => {
        list[i]!.cur = v.started[k]!;
        out[i] = 'started';
      });
      todo = rest;
      continue;
    }
    if (v.kind === 'unknown') {
      ctx.log.debug({ err: v.error.message, count: chunk.length }, 'batched start outcome unknown; reading back');
      const again = ++unknowns > UNKNOWN_ROUNDS ? chunk.map((): 'unreadable' => 'unreadable') : await readBack(ctx, chunk.map((i) => list[i]!));
      const retry = chunk.filter((i, k) => (again[k] === 'again' ? true : ((out[i] = again[k]!), false)));
      todo = [...retry, ...rest];
      continue;
    }
    const k = v.item ?? -1;
    if (k < 0 || k >= chunk.length) {
      // Not said which (not expected: a worker's batch has no batch-wide fence): each alone.
      alone.push(...chunk.map((i) => ({ i, readFirst: false })));
      todo = rest;
      continue;
    }
    const bad = todo[k]!;
    ctx.log.debug({ err: v.error.message, taskId: list[bad]!.taskId, count: chunk.length }, 'batched start refused for one item; the others go again together');
    if (v.kind === 'fenced') {
      list[bad]!.log.info({ err: v.error.message }, 'assignment went stale before it started; ignored');
      out[bad] = 'stale';
    } else alone.push({ i: bad, readFirst: true });
    todo = todo.filter((_, j) => j !== k);
  }
  // Few (one a refusal): side by side, their read-backs batched.
  await Promise.all(alone.map(async ({ i, readFirst }) => void (out[i] = await startOne(ctx, list[i]!, readFirst))));
  return out;
}

type ReadBack = Exclude<StartVerdict, 'stuck'> | 'again';

/** After an unknown start: each attempt's record, read back together, says whether it went through. */
async function readBack(ctx: StartContext, list: Attempt[]): Promise<ReadBack[]> {
  await ctx.reads.connected().catch(() => undefined);
  return Promise.all(list.map((a) => ctx.reads.record(a.taskId, a.cur.record).then((r) => judge(a, r), () => 'unreadable' as const)));
}

/** What a record read back says of `a`'s start: started (a.cur updated), still to start, or stale. */
function judge(a: Attempt, read: Awaited<ReturnType<VerifyReads['record']>>): ReadBack {
  if (read.kind === 'ok' && holdsAttempt(read.record, a.member, a.attempt)) {
    a.cur = { record: read.record, version: read.version };
    return read.record.state === 'running' ? 'started' : 'again';
  }
  a.log.info({ record: read.kind === 'ok' ? read.record.state : read.kind }, 'assignment went stale before it started; ignored');
  return 'stale';
}

/** One attempt's start, read back after each refusal; `readFirst`: its record is known to have moved. */
async function startOne(ctx: StartContext, a: Attempt, readFirst: boolean): Promise<StartVerdict> {
  for (let i = 0; i < 3; i++) {
    if (!readFirst || i > 0) {
      try {
        const v = await start(ctx.tx, a.cur);
        if (v.kind === 'committed') {
          a.cur = v.cur;
          return 'started';
        }
        a.log.debug({ err: v.error.message }, 'start refused; reading back');
      } catch (err) {
        a.log.debug({ err: (err as Error).message }, 'start failed; reading back');
      }
    }
    // Refused, or unknown (connection loss): the record says whether it went through.
    const r = await readBack(ctx, [a]);
    if (r[0] === 'unreadable') {
      a.log.warn('cannot mark the task running; will look again');
      return 'unreadable';
    }
    if (r[0] !== 'again') return r[0]!;
  }
  return 'stuck';
}
