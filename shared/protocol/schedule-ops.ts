// The leader's writes of a schedule's occurrences, each ONE fenced multi:
//
//   submit occurrence T   fence + create task record + create queue entry + set schedule@v (cursor = T)
//   advance cursor        fence + set schedule@v (cursor, skipped)
//   delete tombstone      fence + delete schedule@v (a removed one, TOMBSTONE_TTL_MS old)
//
// Both or neither: the task of T exists exactly when the cursor passed T, so a leader after a
// failover starts from the cursor and neither repeats nor skips an occurrence. Verdicts:
// committed (with the schedule's new version), fenced (deposed), moved (the schedule was
// edited, paused or removed meanwhile: re-read it), unknown (re-read: the cursor tells).
// A task of T that exists already (NODE_EXISTS: not by this protocol; a client's own id
// choice) is not made twice: the cursor is advanced past it alone.
import { DEFAULT_LIMITS, type SizeLimits } from './task-record.js';
import { submitOps } from './task-ops.js';
import { Multi, type LeaderTx, type Refusal } from './multi.js';
import { encodeSchedule, occurrenceRecord, schedulePath, type Schedule } from './schedule.js';

export interface VersionedSchedule {
  schedule: Schedule;
  /** znode version of schedules/<name> when read. */
  version: number;
}

export type ScheduleVerdict = { kind: 'committed'; next: VersionedSchedule; created: boolean } | Refusal;

function scheduleOp(tx: LeaderTx, cur: VersionedSchedule, next: Schedule) {
  return { op: 'setData' as const, path: schedulePath(tx.paths, next.name), data: encodeSchedule(next), version: cur.version };
}

async function send(tx: LeaderTx, m: Multi, next: Schedule, created: boolean): Promise<ScheduleVerdict> {
  const v = await m.send(tx.session);
  if (v.kind !== 'committed') return v;
  const r = v.results.at(-1);
  if (r?.op !== 'setData') throw new Error('the schedule multi set no schedule');
  return { kind: 'committed', next: { schedule: next, version: r.stat.version }, created };
}

/** Moves the cursor (and adds `skipped`) without submitting anything. */
export function advanceCursor(tx: LeaderTx, cur: VersionedSchedule, cursor: number, skipped: number): Promise<ScheduleVerdict> {
  const next: Schedule = { ...cur.schedule, cursor, skipped: cur.schedule.skipped + skipped };
  return send(tx, new Multi(tx.paths).fence(tx.fence()).add(0, [scheduleOp(tx, cur, next)]), next, false);
}

/** Submits the occurrence at `at` and moves the cursor to it (adding `skipped`), in one multi. */
export async function submitOccurrence(
  tx: LeaderTx,
  cur: VersionedSchedule,
  at: number,
  skipped: number,
  now: number,
  limits: SizeLimits = DEFAULT_LIMITS,
): Promise<ScheduleVerdict> {
  const next: Schedule = { ...cur.schedule, cursor: at, skipped: cur.schedule.skipped + skipped };
  const rec = occurrenceRecord(cur.schedule, at, now, limits);
  const m = new Multi(tx.paths).fence(tx.fence()).add(0, [...submitOps(tx.paths, rec), scheduleOp(tx, cur, next)]);
  const v = await send(tx, m, next, true);
  if (v.kind === 'moved' && v.part === 'record' && v.code === 'NODE_EXISTS') return advanceCursor(tx, cur, at, skipped);
  return v;
}

/** Deletes the tombstone of a removed schedule at the version read (moved: re-added or gone meanwhile). */
export async function deleteTombstone(tx: LeaderTx, name: string, version: number): Promise<Refusal | { kind: 'committed' }> {
  const v = await new Multi(tx.paths).fence(tx.fence()).add(0, [{ op: 'remove', path: schedulePath(tx.paths, name), version }]).send(tx.session);
  return v.kind === 'committed' ? { kind: 'committed' } : v;
}
