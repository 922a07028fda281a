// Assignment rounds (assigner.ts): the records behind the queue entries a round took, read many per request; what is
// malformed (failed), missing or stale (its entry removed) is repaired on the way, so a round
// places only tasks its entries still stand for.
import { readQueuedRecords } from '../shared/protocol/queued-reads.js';
import type { QueueEntry } from '../shared/protocol/paths.js';
import { isQueueEntryOf, type VersionedRecord } from '../shared/protocol/task-ops.js';
import { failMalformedQueued, removeStaleQueueEntry } from '../shared/protocol/transitions.js';
import { yieldToIo } from '../shared/util/coalescer.js';
import { notDeposed, type LeaderContext } from './leader-context.js';
import type { QueueIndex } from './queue-index.js';

/** Records handled between two yields to the event loop once read. */
const YIELD_EVERY = 100;

export interface ReadyTask {
  entry: QueueEntry;
  cur: VersionedRecord;
  id: string;
  type: string;
  labels: Record<string, string>;
}

/** Reads the records behind queue entries (many per request); repairs what is malformed, missing or stale. */
export async function readQueued(ctx: LeaderContext, queue: QueueIndex, entries: QueueEntry[]): Promise<ReadyTask[]> {
  const { session, paths } = ctx;
  const records = await readQueuedRecords(session, paths, entries);
  const ready: ReadyTask[] = [];
  for (let i = 0; i < entries.length; i++) {
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToIo();
    const e = entries[i]!;
    const r = records[i]!;
    if (r.kind === 'malformed') {
      await rejectMalformed(ctx, queue, e, r.reason, r.version);
    } else if (r.kind === 'missing') {
      await dropEntry(ctx, queue, e, 'queue entry without a task record');
    } else if (!isQueueEntryOf(paths, r.record, paths.queueEntryPath(e), r.bytes)) {
      // (queuedAt's question, with the size as read instead of encoding the record again;
      // an unmarked entry of a big record, from a drover older than the marker, is its entry too.)
      await dropEntry(ctx, queue, e, `stale queue entry (task is ${r.record.state})`);
    } else {
      queue.classify(e, r.record);
      ready.push({ entry: e, cur: { record: r.record, version: r.version }, id: r.record.id, type: r.record.type, labels: r.record.labels });
    }
  }
  return ready;
}

async function dropEntry(ctx: LeaderContext, queue: QueueIndex, e: QueueEntry, why: string): Promise<void> {
  ctx.log.warn({ taskId: e.taskId, entry: e.name, why }, 'removing queue entry');
  const v = notDeposed(ctx, await removeStaleQueueEntry(ctx, e));
  if (v.kind === 'unknown') throw v.error;
  // moved: the entry is gone already.
  queue.drop(e);
}

async function rejectMalformed(ctx: LeaderContext, queue: QueueIndex, e: QueueEntry, reason: string, version: number): Promise<void> {
  ctx.log.warn({ taskId: e.taskId, reason }, 'malformed task record: marking it failed');
  const v = notDeposed(ctx, await failMalformedQueued(ctx, e, reason, version));
  if (v.kind === 'unknown') throw v.error;
  // moved: the entry or the record changed meanwhile: it stays taken for this round, is read
  // again in the next one if it is still there (the tree watch tells the index if not).
  if (v.kind !== 'moved') queue.drop(e);
}
