// The leader's reads of schedules/: all of them (1 getChildren + 1 multiRead, at start and
// after a watch reset), or the few a watch event named (1 multiRead). A schedule that cannot be
// decoded is reported, not dropped silently: the scheduler logs it and leaves it alone.
import { decodeSchedule, SCHEDULE_NAME_RE, schedulePath } from './schedule.js';
import type { VersionedSchedule } from './schedule-ops.js';
import type { Paths } from './paths.js';
import { NoNodeError } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';

const NO_NODE = -101;

/** One schedule as read: its versioned content, gone (null), or why it cannot be used. */
export type ReadSchedule = VersionedSchedule | null | { error: string; version: number };

/** The names under schedules/ (none when it was never made). */
export async function listSchedules(session: ZkSession, paths: Paths): Promise<string[]> {
  try {
    // A node that is not a schedule's name was not made by drover: not ours to read.
    return (await session.getChildren(paths.schedules)).children.filter((n) => SCHEDULE_NAME_RE.test(n));
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
}

/** Reads `names` in one multiRead (split by the session when large). */
export async function readSchedules(session: ZkSession, paths: Paths, names: readonly string[]): Promise<Map<string, ReadSchedule>> {
  const out = new Map<string, ReadSchedule>();
  if (names.length === 0) return out;
  const got = await session.getDataMany(names.map((n) => schedulePath(paths, n)));
  names.forEach((name, i) => {
    const r = got[i]!;
    if (!r.ok) {
      if (r.code !== NO_NODE) throw new Error(`reading schedule ${name}: ZooKeeper error ${r.code}`);
      return void out.set(name, null);
    }
    try {
      out.set(name, { schedule: decodeSchedule(r.data, name), version: r.stat.version });
    } catch (err) {
      out.set(name, { error: (err as Error).message, version: r.stat.version });
    }
  });
  return out;
}
