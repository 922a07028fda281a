// What the runner takes from a listing of its directory and the burst read after it: the
// entries to read (new, parseable assignment names), and from the reads the attempts to hold
// (their records say they are ours), split into those to mark running and those already
// running (held before a reconnect, say). Everything else is set aside as seen: a missing or
// stale record is the leader's to clean up, a malformed one is failed by the caller.
import type { Logger } from '../shared/log.js';
import { Paths } from '../shared/protocol/paths.js';
import { holdsAttempt } from '../shared/protocol/transitions.js';
import type { ZkSession } from '../shared/zk/session.js';
import { newAttempt, type Attempt } from './attempt.js';
import type { BurstEntry, BurstRead } from './burst-reads.js';
import type { Listing } from './assignment-dir.js';
import type { SeenAssignments } from './seen-assignments.js';

export interface Intake {
  session: ZkSession;
  member: string;
  log: Logger;
  maxProgressBytes: number;
  /** In-flight attempts by assignment path. */
  attempts: ReadonlyMap<string, Attempt>;
  seen: SeenAssignments;
  /** A record that does not parse, behind one of our assignments: to be failed. */
  malformed(held: { assignment: string; member: string; taskId: string; attempt: number }, reason: string, version: number, log: Logger): void;
}

/** The assignments of `listed` not yet dealt with, to be read. */
export function newEntries(x: Intake, listed: Listing): BurstEntry[] {
  const entries: BurstEntry[] = [];
  for (const [key, name] of listed) {
    if (x.attempts.has(key) || x.seen.isIgnored(key)) continue;
    const parsed = Paths.parseAssignment(name);
    if (parsed) entries.push({ key, ...parsed });
    else {
      x.log.warn({ assignment: key }, 'unparseable assignment name; ignored');
      x.seen.ignore(key);
    }
  }
  return entries;
}

/** The attempts the burst's reads give us (marked held), to start or to run as they are. */
export function takeBurst(x: Intake, reads: readonly BurstRead[]): { toStart: Attempt[]; toRun: Attempt[] } {
  const toStart: Attempt[] = [];
  const toRun: Attempt[] = [];
  const { member } = x;
  for (const { key, taskId, attempt, assignment, read } of reads) {
    if (x.attempts.has(key) || x.seen.isIgnored(key)) continue;
    const alog = x.log.child({ taskId, attempt });
    if (read.kind === 'missing') {
      alog.warn('assignment for a missing task record; stale, left to the leader');
      x.seen.ignore(key);
    } else if (read.kind === 'malformed') {
      x.seen.ignore(key);
      x.malformed({ assignment: key, member, taskId, attempt }, read.reason, read.version, alog);
    } else {
      const rec = read.record;
      if (!holdsAttempt(rec, member, attempt)) {
        alog.info({ state: rec.state, recordAttempt: rec.attempt, recordWorker: rec.worker }, 'stale assignment ignored (left to the leader)');
        x.seen.ignore(key);
        continue;
      }
      const a = newAttempt(x.session, key, member, { record: rec, version: read.version }, { taskId, attempt }, x.maxProgressBytes, alog, assignment);
      x.seen.markHeld(key);
      alog.debug({ type: rec.type, state: rec.state }, 'assignment received');
      (rec.state === 'assigned' ? toStart : toRun).push(a);
    }
  }
  return { toStart, toRun };
}
