// Marking attempts running: one multi for a burst of assignments, one by one when the batch
// is refused, each verified by reading the record back when its outcome is unknown.
import type { Paths } from '../shared/protocol/paths.js';
import { MAX_REQUEST_BYTES, opsBytes, startOps } from '../shared/protocol/task-ops.js';
import { readTask } from '../shared/protocol/task-store.js';
import type { Logger } from '../shared/log.js';
import type { OpResult, ZkSession } from '../shared/zk/session.js';
import { isOurs, type Attempt } from './attempt.js';

/** How one attempt's start ended: `unreadable` = try again soon, `stuck` = refused 3 times. */
export type StartVerdict = 'started' | 'stale' | 'unreadable' | 'stuck';

/** Marks `list` running in multis that each fit in one request; returns each attempt's verdict, in order. */
export async function markStarted(session: ZkSession, paths: Paths, list: Attempt[], log: Logger): Promise<StartVerdict[]> {
  const out: StartVerdict[] = [];
  let batch: Attempt[] = [];
  let bytes = 0;
  for (const a of list) {
    // Records carry payloads of up to 512 KiB: a burst of them is more than one request holds.
    const n = opsBytes(startOps(paths, a.cur, Date.now()).ops);
    if (batch.length > 0 && bytes + n > MAX_REQUEST_BYTES) {
      out.push(...(await startBatch(session, paths, batch, log)));
      batch = [];
      bytes = 0;
    }
    batch.push(a);
    bytes += n;
  }
  if (batch.length > 0) out.push(...(await startBatch(session, paths, batch, log)));
  return out;
}

async function startBatch(session: ZkSession, paths: Paths, list: Attempt[], log: Logger): Promise<StartVerdict[]> {
  if (list.length > 1) {
    const now = Date.now();
    const trs = list.map((a) => startOps(paths, a.cur, now));
    try {
      const res = await session.multi(trs.flatMap((t) => t.ops));
      list.forEach((a, i) => (a.cur = { record: trs[i]!.next, version: versionAt(res, 2 * i + 1) }));
      return list.map(() => 'started');
    } catch (err) {
      log.debug({ err: (err as Error).message, count: list.length }, 'batched start refused; starting one by one');
    }
  }
  const out: StartVerdict[] = [];
  for (const a of list) out.push(await startOne(session, paths, a));
  return out;
}

async function startOne(session: ZkSession, paths: Paths, a: Attempt): Promise<StartVerdict> {
  for (let i = 0; i < 3; i++) {
    try {
      const tr = startOps(paths, a.cur, Date.now());
      const res = await session.multi(tr.ops);
      a.cur = { record: tr.next, version: versionAt(res, 1) };
      return 'started';
    } catch (err) {
      // Refused, or unknown (connection loss): the record says whether it went through.
      const read = await readTask(session, paths, a.taskId).catch(() => null);
      if (!read) {
        a.log.warn({ err: (err as Error).message }, 'cannot mark the task running; will look again');
        return 'unreadable';
      }
      if (read.kind === 'ok' && isOurs(a, read.record)) {
        a.cur = { record: read.record, version: read.version };
        if (read.record.state === 'running') return 'started';
        continue;
      }
      a.log.info({ err: (err as Error).message }, 'assignment went stale before it started; ignored');
      return 'stale';
    }
  }
  return 'stuck';
}

function versionAt(res: OpResult[], i: number): number {
  const r = res[i];
  if (r?.op !== 'setData') throw new Error(`multi result ${i} is not a setData`);
  return r.stat.version;
}
