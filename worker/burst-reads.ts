// Reading a burst of new assignments in few requests (session.getDataMany: ZooKeeper
// multiRead): their assignment nodes in one multiRead (per 100), then their records, packed
// into multiReads by the size each record had when it was assigned (`recordBytes` in the
// assignment's data) so one reply stays under ~512 KiB, and under 1 MiB whatever a cancel
// added to them since (RECORDS_PER_READ). A record of unknown size, or over
// 16 KiB, is read alone. A lone assignment costs one request: its node and record together.
// The requests are pooled (eachGroup): shared reads and known-big records IN_FLIGHT at once,
// lone reads of unknown size LONE_IN_FLIGHT, and a failed request fails only its own items.
import type { Paths } from '../shared/protocol/paths.js';
import type { AssignmentData } from '../shared/protocol/task-ops.js';
import { MalformedRecordError, decodeRecord } from '../shared/protocol/task-record.js';
import type { ReadResult as TaskRead } from '../shared/protocol/task-store.js';
import { IN_FLIGHT, LONE_IN_FLIGHT, pooled } from '../shared/util/pool.js';
import { fromClientError } from '../shared/zk/errors.js';
import type { ReadResult, ZkSession } from '../shared/zk/session.js';

/** A record of known size up to this goes in a shared read; bigger or unknown, alone. */
export const ALONE_ABOVE_BYTES = 16 * 1024;
/** What the records of one shared read may add up to (sizes at assignment, plus slack). */
export const REPLY_BUDGET_BYTES = 448 * 1024;
/** Per record: the reply's framing (header, stat) and the start's fields added since it was assigned. */
export const ITEM_SLACK_BYTES = 512;
/**
 * Records per shared read. A record read may have grown since it was sized by what a cancel
 * (or a failure) adds: a message of up to 4096 characters, ~24 KiB when every one is escaped
 * in JSON (MESSAGE_GROWTH_BYTES). A slack per item that covers that would cut a read to ~18
 * records; this cap keeps the worst reply (20 records of 16 KiB, each grown so) near 820 KiB,
 * under 1 MiB. With it the budget binds only if ALONE_ABOVE_BYTES grows.
 */
export const RECORDS_PER_READ = 20;
/** The most a record grows by a message (cancel reason, failure) after it was sized. */
export const MESSAGE_GROWTH_BYTES = 4096 * 6 + 256;
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
export function groupBySize<T>(items: readonly T[], bytesOf: (t: T) => number | undefined, maxPerRead = RECORDS_PER_READ): T[][] {
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
 * Runs `fn` on each group, pooled: a shared read or a known-big record alone (`heavy`: a reply
 * of up to ~450 KiB) IN_FLIGHT at once, the others (one item of unknown size, usually small)
 * LONE_IN_FLIGHT at once. `fn` settles its own items: one group's failure is not another's.
 */
export async function eachGroup<T>(groups: readonly T[][], heavy: (g: T[]) => boolean, fn: (g: T[]) => Promise<void>): Promise<void> {
  await Promise.all([pooled(groups.filter(heavy), fn, IN_FLIGHT), pooled(groups.filter((g) => !heavy(g)), fn, LONE_IN_FLIGHT)]);
}

/** A group of `groupBySize` is heavy unless it is one item of unknown or small size. */
export function heavyGroup<T>(bytesOf: (t: T) => number | undefined): (g: T[]) => boolean {
  return (g) => g.length > 1 || (bytesOf(g[0]!) ?? 0) > ALONE_ABOVE_BYTES;
}

export interface Burst {
  /** The entries read, in no particular order. */
  reads: BurstRead[];
  /** A request that failed (its entries are left out, to be read again); undefined if none did. */
  failed?: unknown;
}

/**
 * Reads `entries`' assignment nodes and records. An entry whose assignment is gone by then is
 * left out (withdrawn: the next listing sees it), and so is one whose request failed (`failed`
 * says why; the others are read all the same). `mayBeLarge(key)`: the node may carry progress
 * (we held it before), so it is read alone.
 */
export async function readBurst(session: ZkSession, paths: Paths, entries: readonly BurstEntry[], mayBeLarge: (key: string) => boolean): Promise<Burst> {
  const read = dataMany(session);
  let failed: unknown;
  /** Runs `fn`; what it throws fails only what it was reading (the first such error is `failed`). */
  const own = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      failed ??= err;
    }
  };
  /** One request: its failure fails its own items only. */
  const request = async (nodes: string[], then: (got: DataRead[]) => void): Promise<void> => {
    let got: DataRead[];
    try {
      got = await read(nodes, { maxPerRequest: nodes.length });
    } catch (err) {
      failed ??= err;
      return;
    }
    then(got);
  };
  const out: BurstRead[] = [];
  const result = (): Burst => (failed === undefined ? { reads: out } : { reads: out, failed });
  if (entries.length === 0) return result();
  if (entries.length === 1) {
    const e = entries[0]!;
    const record = paths.task(e.taskId);
    if (mayBeLarge(e.key)) await request([record], ([r]) => own(() => out.push({ ...e, read: taskRead(r!, e.taskId, record) })));
    else await request([e.key, record], ([a, r]) => own(() => (a!.ok ? out.push({ ...e, assignment: a!.data, read: taskRead(r!, e.taskId, record) }) : gone(a!, e.key))));
    return result();
  }
  // The assignment nodes: new ones ASSIGNMENTS_PER_READ a request, those that may carry progress alone.
  const nodeGroups: BurstEntry[][] = [];
  const small = entries.filter((e) => !mayBeLarge(e.key));
  for (let i = 0; i < small.length; i += ASSIGNMENTS_PER_READ) nodeGroups.push(small.slice(i, i + ASSIGNMENTS_PER_READ));
  for (const e of entries) if (mayBeLarge(e.key)) nodeGroups.push([e]);
  const held: Array<BurstEntry & { assignment: Buffer }> = [];
  await eachGroup(nodeGroups, (g) => g.length > 1, (g) =>
    request(
      g.map((e) => e.key),
      (got) => g.forEach((e, i) => own(() => {
        const a = got[i]!;
        if (a.ok) held.push({ ...e, assignment: a.data });
        else gone(a, e.key);
      })),
    ),
  );
  const bytesOf = (e: (typeof held)[number]) => recordBytesOf(e.assignment);
  await eachGroup(groupBySize(held, bytesOf), heavyGroup(bytesOf), (g) => {
    const recordPaths = g.map((e) => paths.task(e.taskId));
    return request(recordPaths, (rs) => g.forEach((e, i) => own(() => out.push({ ...e, read: taskRead(rs[i]!, e.taskId, recordPaths[i]!) }))));
  });
  return result();
}

/** An assignment that could not be read: gone (withdrawn) is no entry; anything else throws (that entry failed). */
function gone(a: DataRead & { ok: false }, key: string): [] {
  if (a.code !== NO_NODE) throw failed(a.code, key);
  return [];
}
