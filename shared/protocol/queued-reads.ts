// The leader's reads of the records behind queue entries, many per request (multiRead):
// the entry's name says whether its record is big (over BIG_RECORD_BYTES), so a request of
// records that are not big holds at most SMALL_PER_REQUEST of them (a reply of at most
// 512 KiB, far below jute.maxbuffer) and a big record is read alone.
import { fromClientError } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';
import type { Paths, QueueEntry } from './paths.js';
import { BIG_RECORD_BYTES } from './task-ops.js';
import { MalformedRecordError, decodeRecord } from './task-record.js';
import type { ReadResult } from './task-store.js';

/** Records that are not big in one multiRead: their reply stays within 512 KiB. */
export const SMALL_PER_REQUEST = Math.floor((512 * 1024) / BIG_RECORD_BYTES);

const NO_NODE = -101;

/**
 * The records behind `entries`, in order: ok, malformed (with why) or missing. Requests are
 * pipelined; the whole read is retried while the session says a retry is safe (reads are).
 */
export async function readQueuedRecords(session: ZkSession, paths: Paths, entries: readonly QueueEntry[]): Promise<ReadResult[]> {
  const small: number[] = [];
  const big: number[] = [];
  entries.forEach((e, i) => (e.big ? big : small).push(i));
  const out: ReadResult[] = new Array<ReadResult>(entries.length);
  const read = async (idx: number[], maxPerRequest: number) => {
    if (idx.length === 0) return;
    const got = await session.retrying(() => session.getDataMany(idx.map((i) => paths.task(entries[i]!.taskId)), { maxPerRequest }));
    idx.forEach((i, k) => (out[i] = toReadResult(entries[i]!.taskId, got[k]!)));
  };
  await Promise.all([read(small, SMALL_PER_REQUEST), read(big, 1)]);
  return out;
}

type Item = Awaited<ReturnType<ZkSession['getDataMany']>>[number];

function toReadResult(id: string, r: Item): ReadResult {
  if (!r.ok) {
    if (r.code === NO_NODE) return { kind: 'missing' };
    throw fromClientError(Object.assign(new Error(`reading task ${id} failed with ZooKeeper error ${r.code}`), { code: r.code }), { op: 'getDataMany' });
  }
  try {
    return { kind: 'ok', record: decodeRecord(r.data, id), version: r.stat.version };
  } catch (err) {
    if (err instanceof MalformedRecordError) return { kind: 'malformed', reason: err.message, version: r.stat.version };
    throw err;
  }
}
