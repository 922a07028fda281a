// The leader's reads of assignment directories, assignments and their records in few
// requests (getChildrenMany / getDataMany: ZooKeeper multiRead), each reply kept well under
// 512 KiB by what is known of sizes before reading:
// - a directory listing: names are at most ~210 bytes (a task id is at most 200 characters),
//   and a member holds about its capacity (or what the mirror last saw);
// - an assignment node is ~200 bytes as a leader writes it, but its worker may write progress
//   over it, capped like a result (a worker's default cap, 64 KiB): a node not known to be
//   unwritten is counted at that cap, so a request holds at most 6 of them whatever they
//   hold (nothing sized from what earlier replies happened to hold; a worker configured with
//   a bigger result cap can still exceed it: member nodes do not say their cap). Nodes the
//   mirror saw created and never changed are counted small. Many such requests go out at
//   once while replies come back small, few once one is big;
// - a record is packed by the size it had when assigned (`recordBytes` in the assignment);
//   one of unknown size (an older leader's assignment) is read alone.
import type { Paths } from '../shared/protocol/paths.js';
import { DEFAULT_LIMITS, MalformedRecordError, decodeRecord } from '../shared/protocol/task-record.js';
import { readTask, type ReadResult as TaskRead } from '../shared/protocol/task-store.js';
import { SessionClosedError, SessionExpiredError, fromClientError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { packBySize } from '../shared/util/pack.js';
import { IN_FLIGHT, LONE_IN_FLIGHT, pooled } from '../shared/util/pool.js';

/** What one reply may add up to, by the estimates below (jute.maxbuffer is 1 MiB). */
export const REPLY_BUDGET_BYTES = 448 * 1024;
/** One child name in a listing reply: its length prefix and at most ~210 characters. */
const CHILD_NAME_BYTES = 214;
/** Directories per listing request (the API's default). */
const DIRS_PER_REQUEST = 50;
/** Children a directory is taken to hold when nothing is known of it. */
export const UNKNOWN_LOAD = 64;
/** An assignment node as a leader writes it (~120 bytes of JSON), with its stat and framing. */
const ASSIGNMENT_SMALL_BYTES = 512;
/** One its worker may have written progress over (capped like a result: the default cap), with its stat and framing. */
export const ASSIGNMENT_MAX_BYTES = DEFAULT_LIMITS.maxResultBytes + 512;
const ASSIGNMENTS_PER_REQUEST = 1000;
/** Assignment requests in flight while every reply so far was small; IN_FLIGHT once one was not. */
const ASSIGNMENT_LANES = 32;
/** Per record: the stat and framing, and what it may have grown by since assigned (the start's fields). */
const RECORD_SLACK_BYTES = 256;
const RECORDS_PER_REQUEST = 1000;
const NO_NODE = -101;

type DataRead = Awaited<ReturnType<ZkSession['getDataMany']>>[number];

function failed(code: number, op: string, path: string): Error {
  return fromClientError(Object.assign(new Error(`read failed with ZooKeeper error ${code}`), { code }), { op, path });
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

/**
 * Assignment nodes' data, in order (not ok: the node is gone). `small(i)`: node i is known to
 * hold what a leader wrote (never changed since): counted small; every other node at the cap.
 */
export async function readAssignments(session: ZkSession, nodes: readonly string[], small: (i: number) => boolean = () => false): Promise<DataRead[]> {
  const out = new Array<DataRead>(nodes.length);
  const groups = packBySize(nodes.map((_, i) => i), (i) => (small(i) ? ASSIGNMENT_SMALL_BYTES : ASSIGNMENT_MAX_BYTES), REPLY_BUDGET_BYTES, ASSIGNMENTS_PER_REQUEST);
  // Deep while replies are small (they do not queue up behind each other), shallow once one was big.
  let bigReply = false;
  let next = 0;
  const lane = async (k: number): Promise<void> => {
    while (next < groups.length && (k < IN_FLIGHT || !bigReply)) {
      const g = groups[next++]!;
      const paths = g.map((i) => nodes[i]!);
      const got = await session.retrying(() => session.getDataMany(paths, { maxPerRequest: g.length }));
      let bytes = 0;
      got.forEach((r, j) => {
        if (!r.ok && r.code !== NO_NODE) throw failed(r.code, 'getDataMany', paths[j]!);
        if (r.ok) bytes += r.data.length + 100;
        out[g[j]!] = r;
      });
      if (bytes > REPLY_BUDGET_BYTES / IN_FLIGHT) bigReply = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(ASSIGNMENT_LANES, groups.length) }, (_, k) => lane(k)));
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

/** A record whose read was refused (NO_AUTH, say): `readRecordsEach`. */
export interface FailedRead {
  kind: 'failed';
  error: Error;
}

/**
 * As readRecords, but a refused read fails only its own item: when the packed read throws, the
 * items are read again one by one (LONE_IN_FLIGHT at a time: as many requests more as items,
 * only on such a failure). A lost session still throws.
 */
export async function readRecordsEach(session: ZkSession, paths: Paths, items: readonly RecordToRead[]): Promise<Array<TaskRead | FailedRead>> {
  const lost = (err: unknown) => err instanceof SessionExpiredError || err instanceof SessionClosedError;
  try {
    return await readRecords(session, paths, items);
  } catch (err) {
    if (lost(err)) throw err;
    if (items.length <= 1) return [{ kind: 'failed', error: err as Error }];
  }
  const out = new Array<TaskRead | FailedRead>(items.length);
  await pooled(
    items.map((_, i) => i),
    async (i) => {
      try {
        out[i] = await readTask(session, paths, items[i]!.taskId);
      } catch (err) {
        if (lost(err)) throw err;
        out[i] = { kind: 'failed', error: err as Error };
      }
    },
    LONE_IN_FLIGHT,
  );
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
