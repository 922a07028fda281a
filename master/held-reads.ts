// The leader's reads of assignment directories, assignments and their records in few
// requests (getChildrenMany / getDataMany: ZooKeeper multiRead), each reply kept well under
// 512 KiB by what is known of sizes before reading:
// - a directory listing: names are at most ~210 bytes (a task id is at most 200 characters),
//   and a member holds about its capacity (or what the mirror last saw);
// - an assignment node is ~200 bytes, unless its worker wrote progress over it (capped like a
//   result, so it can be tens of KiB): requests are sized from the largest node read so far
//   (a first small request, then waves), so one big node shrinks the requests after it;
// - a record is packed by the size it had when assigned (`recordBytes` in the assignment);
//   one of unknown size (an older leader's assignment) is read alone.
import type { Paths } from '../shared/protocol/paths.js';
import { MalformedRecordError, decodeRecord } from '../shared/protocol/task-record.js';
import { readTask, type ReadResult as TaskRead } from '../shared/protocol/task-store.js';
import { fromClientError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';

/** What one reply may add up to, by the estimates below (jute.maxbuffer is 1 MiB). */
export const REPLY_BUDGET_BYTES = 448 * 1024;
/** One child name in a listing reply: its length prefix and at most ~210 characters. */
const CHILD_NAME_BYTES = 214;
/** Directories per listing request (the API's default). */
const DIRS_PER_REQUEST = 50;
/** Children a directory is taken to hold when nothing is known of it. */
export const UNKNOWN_LOAD = 64;
/** An assignment node with its stat and framing before any has been read. */
const ASSIGNMENT_GUESS_BYTES = 320;
const ASSIGNMENTS_PER_REQUEST = 1000;
const FIRST_ASSIGNMENT_REQUEST = 128;
/**
 * Requests in flight at once. Each reply is up to ~450 KiB: a deeper pipeline only queues
 * replies behind each other (the server answers a session's requests in order), and the last
 * of them would wait out its deadline.
 */
const IN_FLIGHT = 4;
/** Per record: the stat and framing, and what it may have grown by since assigned (the start's fields). */
const RECORD_SLACK_BYTES = 256;
const RECORDS_PER_REQUEST = 1000;
/** Records of unknown size (read alone, one request each: usually small) in flight at once. */
const LONE_IN_FLIGHT = 16;
const NO_NODE = -101;

type DataRead = Awaited<ReturnType<ZkSession['getDataMany']>>[number];

function failed(code: number, op: string, path: string): Error {
  return fromClientError(Object.assign(new Error(`read failed with ZooKeeper error ${code}`), { code }), { op, path });
}

/** Runs `fn` on every item, at most IN_FLIGHT at a time. */
async function pooled<T>(items: readonly T[], fn: (t: T) => Promise<void>, lanes = IN_FLIGHT): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

/** Splits items into groups whose estimated sizes add up to at most `budget` (a big one goes alone). */
export function packBySize<T>(items: readonly T[], bytes: (t: T) => number, budget: number, maxPer: number): T[][] {
  const groups: T[][] = [];
  let cur: T[] = [];
  let sum = 0;
  for (const it of items) {
    const b = bytes(it);
    if (cur.length > 0 && (sum + b > budget || cur.length >= maxPer)) {
      groups.push(cur);
      cur = [];
      sum = 0;
    }
    cur.push(it);
    sum += b;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/** Children of each member's directory (null: no such directory), in few pipelined requests. */
export async function listAssignDirs(
  session: ZkSession,
  paths: Paths,
  members: readonly string[],
  expectedLoad: (member: string) => number,
): Promise<Map<string, string[] | null>> {
  const groups = packBySize(members, (m) => Math.max(1, expectedLoad(m)) * CHILD_NAME_BYTES, REPLY_BUDGET_BYTES, DIRS_PER_REQUEST);
  const out = new Map<string, string[] | null>();
  await pooled(groups, async (g) => {
    const dirs = g.map((m) => paths.assignDir(m));
    const got = await session.retrying(() => session.getChildrenMany(dirs, { maxPerRequest: g.length }));
    g.forEach((m, i) => {
      const r = got[i]!;
      if (r.ok) out.set(m, r.children);
      else if (r.code === NO_NODE) out.set(m, null);
      else throw failed(r.code, 'getChildrenMany', dirs[i]!);
    });
  });
  return out;
}

/** Assignment nodes' data, in order (not ok: the node is gone), requests sized by the largest seen. */
export async function readAssignments(session: ZkSession, nodes: readonly string[]): Promise<DataRead[]> {
  const out: DataRead[] = [];
  let largest = ASSIGNMENT_GUESS_BYTES;
  let at = 0;
  for (let wave = 0; at < nodes.length; wave++) {
    const per = Math.max(1, Math.min(wave === 0 ? FIRST_ASSIGNMENT_REQUEST : ASSIGNMENTS_PER_REQUEST, Math.floor(REPLY_BUDGET_BYTES / largest)));
    const chunks: string[][] = [];
    for (let k = 0; k < (wave === 0 ? 1 : IN_FLIGHT) && at < nodes.length; k++, at += per) chunks.push(nodes.slice(at, at + per));
    const got = await Promise.all(chunks.map((c) => session.retrying(() => session.getDataMany(c, { maxPerRequest: c.length }))));
    got.forEach((rs, ci) =>
      rs.forEach((r, i) => {
        if (!r.ok && r.code !== NO_NODE) throw failed(r.code, 'getDataMany', chunks[ci]![i]!);
        // Half again the largest node so far, with its stat: a worker writing progress tends to write it on many.
        if (r.ok) largest = Math.max(largest, Math.ceil((r.data.length + 100) * 1.5));
        out.push(r);
      }),
    );
  }
  return out;
}

export interface RecordToRead {
  taskId: string;
  /** The record's size when it was assigned; unknown: read alone. */
  recordBytes?: number;
}

/** The records of `items`, in order, as readTask reads them. */
export async function readRecords(session: ZkSession, paths: Paths, items: readonly RecordToRead[]): Promise<TaskRead[]> {
  const out = new Array<TaskRead>(items.length);
  const sized: number[] = [];
  const alone: number[] = [];
  items.forEach((it, i) => (it.recordBytes !== undefined && it.recordBytes >= 0 ? sized : alone).push(i));
  const groups = packBySize(sized, (i) => items[i]!.recordBytes! + RECORD_SLACK_BYTES, REPLY_BUDGET_BYTES, RECORDS_PER_REQUEST);
  await Promise.all([
    pooled(groups, async (g) => {
      const nodes = g.map((i) => paths.task(items[i]!.taskId));
      const got = await session.retrying(() => session.getDataMany(nodes, { maxPerRequest: g.length }));
      g.forEach((idx, k) => (out[idx] = toTaskRead(got[k]!, items[idx]!.taskId, nodes[k]!)));
    }),
    pooled(alone, async (i) => void (out[i] = await readTask(session, paths, items[i]!.taskId)), LONE_IN_FLIGHT),
  ]);
  return out;
}

function toTaskRead(r: DataRead, id: string, node: string): TaskRead {
  if (!r.ok) {
    if (r.code === NO_NODE) return { kind: 'missing' };
    throw failed(r.code, 'getDataMany', node);
  }
  try {
    return { kind: 'ok', record: decodeRecord(r.data, id), version: r.stat.version };
  } catch (err) {
    if (err instanceof MalformedRecordError) return { kind: 'malformed', reason: err.message, version: r.stat.version };
    throw err;
  }
}
