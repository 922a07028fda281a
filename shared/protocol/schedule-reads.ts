// The leader's reads of schedules/: all of them (1 getChildren + 1 multiRead per
// SCHEDULES_PER_READ, at start and after a watch reset), or the few a watch event named. A
// schedule that cannot be decoded is reported, not dropped silently: the scheduler logs it and
// leaves it alone. A name that is no schedule's (a node drover did not make) is never read.
import { decodeSchedule, isScheduleName, MAX_SCHEDULE_BYTES, schedulePath } from './schedule.js';
import type { VersionedSchedule } from './schedule-ops.js';
import type { Paths } from './paths.js';
import { NoNodeError } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';

const NO_NODE = -101;
/**
 * A multiRead's reply stays within ~448 KiB (as the leader's held reads), each schedule at its
 * largest. A foreign node (zkCli, up to ~1 MiB under a valid name) can make one reply up to
 * ~4 MiB: this client reads it whole (measured: 4 × 1 MB in one reply, connection kept), and
 * the node is reported unusable, never parsed; bounding that too would cost a stat per name.
 */
export const SCHEDULES_PER_READ = Math.max(1, Math.floor((448 * 1024) / MAX_SCHEDULE_BYTES));

/**
 * One schedule as read: its versioned content, gone (null), removed (a tombstone at
 * `version`: absent to everyone but an add, which writes over it), or why it cannot be used.
 */
export type ReadSchedule = VersionedSchedule | null | { removed: true; version: number; removedAt: number } | { error: string; version: number };

/** The names under schedules/ (none when it was never made). */
export async function listSchedules(session: ZkSession, paths: Paths): Promise<string[]> {
  try {
    // A node that is not a schedule's name was not made by drover: not ours to read.
    return (await session.getChildren(paths.schedules)).children.filter(isScheduleName);
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
}

/** Reads `names` (SCHEDULES_PER_READ a multiRead, pipelined); a name no schedule can have is left out. */
export async function readSchedules(session: ZkSession, paths: Paths, names: readonly string[]): Promise<Map<string, ReadSchedule>> {
  const out = new Map<string, ReadSchedule>();
  const ok = names.filter(isScheduleName);
  if (ok.length === 0) return out;
  const got = await session.getDataMany(ok.map((n) => schedulePath(paths, n)), { maxPerRequest: SCHEDULES_PER_READ });
  ok.forEach((name, i) => {
    const r = got[i]!;
    if (!r.ok) {
      if (r.code !== NO_NODE) throw new Error(`reading schedule ${name}: ZooKeeper error ${r.code}`);
      return void out.set(name, null);
    }
    // Not one drover wrote (zkCli can put ~1 MB under a valid name): unusable, never parsed.
    if (r.data.length > MAX_SCHEDULE_BYTES) {
      return void out.set(name, { error: `schedule ${name} is ${r.data.length} bytes, over the ${MAX_SCHEDULE_BYTES}-byte limit of a schedule`, version: r.stat.version });
    }
    try {
      const got = decodeSchedule(r.data, name);
      out.set(name, 'removed' in got ? { removed: true, version: r.stat.version, removedAt: got.removedAt } : { schedule: got, version: r.stat.version });
    } catch (err) {
      out.set(name, { error: (err as Error).message, version: r.stat.version });
    }
  });
  return out;
}
