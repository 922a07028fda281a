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

/** A read of a queued record: as readTask's, with the record's size as stored when read. */
export type QueuedRead = Exclude<ReadResult, { kind: 'ok' }> | (Extract<ReadResult, { kind: 'ok' }> & { bytes: number });

/**
 * The records behind `entries`, in order: ok, malformed (with why) or missing. One request per
 * group (up to SMALL_PER_REQUEST records that are not big, or one big record), all pipelined;
 * each group is decoded as its reply comes, so a big read is never one long synchronous
 * stretch. A group is retried while the session says a retry is safe (reads are).
 */
export async function readQueuedRecords(session: ZkSession, paths: Paths, entries: readonly QueueEntry[]): Promise<QueuedRead[]> {
  const groups: number[][] = [];
  let small: number[] = [];
  entries.forEach((e, i) => {
    if (e.big) {
      groups.push([i]);
      return;
    }
    small.push(i);
    if (small.length === SMALL_PER_REQUEST) {
      groups.push(small);
      small = [];
    }
  });
  if (small.length > 0) groups.push(small);
  const out = new Array<QueuedRead>(entries.length);
  await Promise.all(
    groups.map(async (idx) => {
      const got = await session.retrying(() => session.getDataMany(idx.map((i) => paths.task(entries[i]!.taskId)), { maxPerRequest: idx.length }));
      idx.forEach((i, k) => (out[i] = toQueuedRead(entries[i]!.taskId, got[k]!)));
    }),
  );
  return out;
}

type Item = Awaited<ReturnType<ZkSession['getDataMany']>>[number];

function toQueuedRead(id: string, r: Item): QueuedRead {
  if (!r.ok) {
    if (r.code === NO_NODE) return { kind: 'missing' };
    throw fromClientError(Object.assign(new Error(`reading task ${id} failed with ZooKeeper error ${r.code}`), { code: r.code }), { op: 'getDataMany' });
  }
  try {
    return { kind: 'ok', record: decodeRecord(r.data, id), version: r.stat.version, bytes: r.data.length };
  } catch (err) {
    if (err instanceof MalformedRecordError) return { kind: 'malformed', reason: err.message, version: r.stat.version };
    throw err;
  }
}
