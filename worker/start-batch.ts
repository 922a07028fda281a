// Marking attempts running: one multi for a burst of assignments (as many as fit one request),
// one by one when the batch is refused, each verified by reading the record back when its
// outcome is unknown.
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import { readTask } from '../shared/protocol/task-store.js';
import { holdsAttempt, start, startBatch, type Tx } from '../shared/protocol/transitions.js';
import type { ZkSession } from '../shared/zk/session.js';
import type { Attempt } from './attempt.js';

/** How one attempt's start ended: `unreadable` = try again soon, `stuck` = refused 3 times. */
export type StartVerdict = 'started' | 'stale' | 'unreadable' | 'stuck';

/** Marks `list` running in multis that each fit in one request; returns each attempt's verdict, in order. */
export async function markStarted(session: ZkSession, paths: Paths, list: Attempt[], log: Logger): Promise<StartVerdict[]> {
  const tx: Tx = { session, paths };
  const out: StartVerdict[] = [];
  const curs = list.map((a) => a.cur);
  for (let i = 0; i < list.length; ) {
    if (i === list.length - 1) {
      out.push(await startOne(tx, list[i]!));
      break;
    }
    let v: Awaited<ReturnType<typeof startBatch>>;
    try {
      v = await startBatch(tx, curs, i);
    } catch (err) {
      log.debug({ err: (err as Error).message, count: list.length - i }, 'batched start failed; starting one by one');
      for (const a of list.slice(i)) out.push(await startOne(tx, a));
      break;
    }
    const chunk = list.slice(i, i + v.taken);
    i += v.taken;
    if (v.kind === 'committed') {
      const started = v.started;
      chunk.forEach((a, k) => (a.cur = started[k]!));
      out.push(...chunk.map((): StartVerdict => 'started'));
      continue;
    }
    log.debug({ err: v.error.message, count: chunk.length }, 'batched start refused; starting one by one');
    for (const a of chunk) out.push(await startOne(tx, a));
  }
  return out;
}

async function startOne(tx: Tx, a: Attempt): Promise<StartVerdict> {
  for (let i = 0; i < 3; i++) {
    let err: unknown;
    try {
      const v = await start(tx, a.cur);
      if (v.kind === 'committed') {
        a.cur = v.cur;
        return 'started';
      }
      err = v.error;
    } catch (e) {
      err = e;
    }
    // Refused, or unknown (connection loss): the record says whether it went through.
    const read = await readTask(tx.session, tx.paths, a.taskId).catch(() => null);
    if (!read) {
      a.log.warn({ err: (err as Error).message }, 'cannot mark the task running; will look again');
      return 'unreadable';
    }
    if (read.kind === 'ok' && holdsAttempt(read.record, a.member, a.attempt)) {
      a.cur = { record: read.record, version: read.version };
      if (read.record.state === 'running') return 'started';
      continue;
    }
    a.log.info({ err: (err as Error).message }, 'assignment went stale before it started; ignored');
    return 'stale';
  }
  return 'stuck';
}
