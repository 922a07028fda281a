// Reading a burst of new assignments in few requests (session.getDataMany: ZooKeeper
// multiRead): their assignment nodes in one multiRead (per 100), then their records, packed
// into multiReads by the size each record had when it was assigned (`recordBytes` in the
// assignment's data) so one reply stays under ~512 KiB. A record of unknown size, or over
// 16 KiB, is read alone. A lone assignment costs one request: its node and record together.
import type { Paths } from '../shared/protocol/paths.js';
import type { AssignmentData } from '../shared/protocol/task-ops.js';
import { MalformedRecordError, decodeRecord } from '../shared/protocol/task-record.js';
import type { ReadResult as TaskRead } from '../shared/protocol/task-store.js';
import { fromClientError } from '../shared/zk/errors.js';
import type { ReadResult, ZkSession } from '../shared/zk/session.js';

/** A record of known size up to this goes in a shared read; bigger or unknown, alone. */
export const ALONE_ABOVE_BYTES = 16 * 1024;
/** What the records of one shared read may add up to (sizes at assignment, plus slack). */
export const REPLY_BUDGET_BYTES = 448 * 1024;
/** Per record: the reply's framing (header, stat) and some growth since it was assigned (a short cancel reason). */
export const ITEM_SLACK_BYTES = 512;
/** Assignment nodes per shared read: ~100 bytes each when new (no progress written yet). */
const ASSIGNMENTS_PER_READ = 100;
const NO_NODE = -101;

export interface BurstEntry {
  /** The assignment node's path. */
  key: string;
  taskId: string;
  attempt: number;
}

export interface BurstRead extends BurstEntry {
  /** The assignment node's data, when it was read (the progress writer writes over it). */
  assignment?: Buffer;
  read: TaskRead;
}

type DataRead = ReadResult;

/** session.getDataMany, retried across connection loss like any read. */
function dataMany(session: ZkSession): (paths: readonly string[], opts?: { maxPerRequest?: number }) => Promise<DataRead[]> {
  return (paths, opts) => session.retrying(() => session.getDataMany(paths, opts));
}

function failed(code: number, path: string): Error {
  return fromClientError(Object.assign(new Error(`read failed with code ${code}`), { code }), { op: 'getDataMany', path });
}

/** A record as read in a multiRead: ok, malformed (with why) or missing; another error code throws. */
export function taskRead(r: DataRead, id: string, path: string): TaskRead {
  if (!r.ok) {
    if (r.code === NO_NODE) return { kind: 'missing' };
    throw failed(r.code, path);
  }
  const version = r.stat.version;
  try {
    return { kind: 'ok', record: decodeRecord(r.data, id), version };
  } catch (err) {
    if (err instanceof MalformedRecordError) return { kind: 'malformed', reason: err.message, version };
    throw err;
  }
}

/** The record's size when it was assigned, if the assignment says (a leader older than the field does not). */
export function recordBytesOf(assignment: Buffer): number | undefined {
  try {
    const n: unknown = (JSON.parse(assignment.toString('utf8')) as Partial<AssignmentData>).recordBytes;
    return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Packs record reads into groups: known small sizes share a read up to the budget, the rest go alone. */
export function groupBySize<T>(items: readonly T[], bytesOf: (t: T) => number | undefined, maxPerRead = 100): T[][] {
  const groups: T[][] = [];
  let cur: T[] = [];
  let used = 0;
  for (const t of items) {
    const b = bytesOf(t);
    if (b === undefined || b > ALONE_ABOVE_BYTES) {
      groups.push([t]);
      continue;
    }
    const cost = b + ITEM_SLACK_BYTES;
    if (cur.length > 0 && (cur.length >= maxPerRead || used + cost > REPLY_BUDGET_BYTES)) {
      groups.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(t);
    used += cost;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/**
 * Reads `entries`' assignment nodes and records. An entry whose assignment is gone by then is
 * left out (withdrawn: the next listing sees it). `mayBeLarge(key)`: the node may carry
 * progress (we held it before), so it is read alone.
 */
export async function readBurst(session: ZkSession, paths: Paths, entries: readonly BurstEntry[], mayBeLarge: (key: string) => boolean): Promise<BurstRead[]> {
  const read = dataMany(session);
  if (entries.length === 0) return [];
  if (entries.length === 1) {
    const e = entries[0]!;
    const record = paths.task(e.taskId);
    if (mayBeLarge(e.key)) return [{ ...e, read: taskRead((await read([record]))[0]!, e.taskId, record) }];
    const [a, r] = await read([e.key, record], { maxPerRequest: 2 });
    return a!.ok ? [{ ...e, assignment: a!.data, read: taskRead(r!, e.taskId, record) }] : gone(a!, e.key);
  }
  const small = entries.filter((e) => !mayBeLarge(e.key));
  const large = entries.filter((e) => mayBeLarge(e.key));
  const [smallReads, largeReads] = await Promise.all([
    read(small.map((e) => e.key), { maxPerRequest: ASSIGNMENTS_PER_READ }),
    large.length > 0 ? read(large.map((e) => e.key), { maxPerRequest: 1 }) : Promise.resolve([]),
  ]);
  const held: Array<BurstEntry & { assignment: Buffer }> = [];
  [...small, ...large].forEach((e, i) => {
    const a = (i < small.length ? smallReads[i] : largeReads[i - small.length])!;
    if (a.ok) held.push({ ...e, assignment: a.data });
    else gone(a, e.key);
  });
  const groups = groupBySize(held, (e) => recordBytesOf(e.assignment));
  const results = await Promise.all(
    groups.map(async (g) => {
      const recordPaths = g.map((e) => paths.task(e.taskId));
      const rs = await read(recordPaths, { maxPerRequest: g.length });
      return g.map((e, i): BurstRead => ({ ...e, read: taskRead(rs[i]!, e.taskId, recordPaths[i]!) }));
    }),
  );
  return results.flat();
}

/** An assignment that could not be read: gone (withdrawn) is no entry; anything else fails the listing. */
function gone(a: DataRead & { ok: false }, key: string): [] {
  if (a.code !== NO_NODE) throw failed(a.code, key);
  return [];
}
