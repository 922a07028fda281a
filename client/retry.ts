// Retrying failed or cancelled tasks (the retry transition: shared/protocol/retry-ops.ts):
// one by id, or every one of a state (and type) found in the done index.
//
// Cost of retryMany (S done shards, D done entries, F of them matching):
//   1 multiRead of the S shards' stats; their names in multiReads packed to ~512 KiB replies,
//   SCAN_CHUNK names at a time (memory: one chunk's ids, and of its records only the matching
//   ones, at most KEPT_BUDGET_BYTES of them before they are retried: never the whole index);
//   every one of the D records read (done names do not say how a task ended), in multiReads
//   packed by the estimates of record-reads.ts; F retries in multis of at most BATCH_LIMITS
//   (200 tasks, 400 KiB). Nothing watches. Tasks are taken in the index's order (shard by
//   shard, a shard's entries as listed), so `limit` takes the first matches of that order.
import { Paths } from '../shared/protocol/paths.js';
import { retry, retryBatch } from '../shared/protocol/retry-ops.js';
import { BATCH_LIMITS, type VersionedRecord } from '../shared/protocol/task-ops.js';
import { MalformedRecordError, decodeRecord } from '../shared/protocol/task-record.js';
import { RETRYABLE_STATES, retryRefusal, type TaskState } from '../shared/protocol/task-state.js';
import type { Tx } from '../shared/protocol/multi.js';
import { fromClientError } from '../shared/zk/errors.js';
import { RecordSizes } from './record-reads.js';
import { childCounts, listDirs } from './shard-listing.js';
import { readForWrite } from './read-for-write.js';

export interface RetryResult {
  /** This call queued it again. */
  retried: boolean;
  /** Its state now: queued when retried; else the state that refused the retry. */
  state: TaskState;
}

export interface RetryManyOptions {
  state: 'failed' | 'cancelled';
  type?: string;
  /** Retry at most this many (default: all). */
  limit?: number;
  /** Count the matches, write nothing. */
  dryRun?: boolean;
}

export interface RetryManyResult {
  /** Tasks of that state (and type) found. */
  matched: number;
  /** Queued again by this call (0 on a dry run). */
  retried: number;
  /** Matched but changed before the write (retried by someone else, purged): left alone. */
  changed: number;
  /** Done records read. */
  scanned: number;
  /** Read steps: each ends at the kept records' byte budget (their retries go out then) or a chunk's end. */
  steps: number;
}

/** A retry refused for what the record is (retryRefusal), not for its state. */
export class RetryRefusedError extends Error {
  override name = 'RetryRefusedError';
}

const TRIES = 10;
const NO_NODE = -101;
/** Done entries listed (and their records read) per step of retryMany. */
const SCAN_CHUNK = 2000;
/** Bytes of matching records held at once by retryMany before they are retried (a step ends there). */
export const KEPT_BUDGET_BYTES = 32 * 1024 * 1024;

/** Retries one task: failed or cancelled → queued with a fresh attempt budget. */
export async function retryOne(tx: Tx, id: string): Promise<RetryResult> {
  // One timestamp for every try: a try whose reply was lost is recognised by it (retriedAt).
  const now = Date.now();
  let unsure = false;
  for (let tries = 0; tries < TRIES; tries++) {
    const r = await readForWrite(tx.session, tx.paths, id);
    if (r === null) {
      unsure = true;
      continue;
    }
    // Our token after a lost reply: ours went through (the task may have run, even failed, since).
    if (unsure && r.record.retriedAt === now) return { retried: true, state: r.record.state };
    if (!RETRYABLE_STATES.includes(r.record.state)) return { retried: false, state: r.record.state };
    const refusal = retryRefusal(r.record);
    if (refusal !== null) throw new RetryRefusedError(refusal);
    const v = await retry(tx, { record: r.record, version: r.version }, now);
    if (v.kind === 'committed') return { retried: true, state: 'queued' };
    if (v.kind === 'fenced') throw v.error;
    if (v.kind === 'moved' && v.part === 'done-entry') throw new Error(`task ${id} is ${r.record.state} but has no done entry (the index is damaged): not retried`);
    if (v.kind === 'unknown') {
      unsure = true;
      await tx.session.waitConnected().catch(() => undefined);
    }
    // moved: it changed between read and write (retried, purged): look again.
  }
  throw new Error(`task ${id} kept changing; retry gave up after ${TRIES} tries`);
}

/** Retries every task of `opts.state` (and type) in the done index, up to `opts.limit`. */
export async function retryMany(tx: Tx, opts: RetryManyOptions, keptBudgetBytes = KEPT_BUDGET_BYTES): Promise<RetryManyResult> {
  if (!RETRYABLE_STATES.includes(opts.state)) throw new Error(`retry: state must be one of ${RETRYABLE_STATES.join(', ')}, got ${String(opts.state)}`);
  const limit = opts.limit ?? Infinity;
  if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) throw new RangeError(`retry: limit must be an integer >= 1, got ${limit}`);
  const { session, paths } = tx;
  const now = Date.now();
  const out: RetryManyResult = { matched: 0, retried: 0, changed: 0, scanned: 0, steps: 0 };
  const sizes = new RecordSizes();
  const dirs = paths.shardNames.map((s) => paths.doneShard(s));
  const counts = await childCounts(session, dirs);
  // A malformed stand-in cannot run again (retryRefusal): never matched.
  const wants = (v: VersionedRecord) => v.record.state === opts.state && (opts.type === undefined || v.record.type === opts.type) && retryRefusal(v.record) === null;
  const done = () => (opts.dryRun ? out.matched : out.retried) >= limit;
  // Shards a chunk at a time: at most ~SCAN_CHUNK names (or one big shard) held at once.
  for (let i = 0; i < dirs.length && !done(); ) {
    const chunk: Array<{ path: string; count: number }> = [];
    for (let n = 0; i < dirs.length && (chunk.length === 0 || n + counts[i]! <= SCAN_CHUNK); i++) {
      chunk.push({ path: dirs[i]!, count: counts[i]! });
      n += counts[i]!;
    }
    const ids: string[] = [];
    await listDirs(session, chunk, (_k, names) => {
      for (const name of names) {
        const e = Paths.parseDoneEntry(name);
        if (e) ids.push(e.taskId);
      }
    });
    for (let j = 0; j < ids.length && !done(); j += SCAN_CHUNK) {
      let pending: readonly string[] = ids.slice(j, j + SCAN_CHUNK);
      while (pending.length > 0 && !done()) {
        const step = await readVersioned(tx, sizes, pending, wants, keptBudgetBytes);
        out.steps++;
        out.scanned += step.scanned;
        pending = step.rest;
        const matching = step.kept.slice(0, limit === Infinity ? undefined : limit - (opts.dryRun ? out.matched : out.retried));
        out.matched += matching.length;
        if (!opts.dryRun) await retryAll(tx, matching, now, wants, out);
      }
    }
  }
  return out;
}

/** Sends the retries of `curs` in batched multis, counting into `out`. */
async function retryAll(tx: Tx, curs: VersionedRecord[], now: number, wants: (v: VersionedRecord) => boolean, out: RetryManyResult): Promise<void> {
  let unknowns = 0;
  for (let i = 0; i < curs.length; ) {
    const v = await retryBatch(tx, curs, i, now, BATCH_LIMITS);
    if (v.kind === 'committed') {
      out.retried += v.taken;
      i += v.taken;
    } else if (v.kind === 'moved') {
      // That one changed under us (retried by another, purged); the rest of the batch was not written.
      curs.splice(v.item, 1);
      out.changed++;
    } else if (v.kind === 'unknown') {
      if (++unknowns > TRIES) throw v.error;
      await tx.session.waitConnected().catch(() => undefined);
      // The batch may have gone through: read its records again; ours carry retriedAt = now.
      const batch = curs.slice(i, i + v.taken);
      const { kept } = await readVersioned(tx, new RecordSizes(), batch.map((c) => c.record.id), () => true, Infinity);
      const again = new Map(kept.map((c) => [c.record.id, c]));
      const keep: VersionedRecord[] = [];
      for (const c of batch) {
        const a = again.get(c.record.id);
        // Our token: retried by this call, whatever it did since (run, even failed again).
        if (a && a.record.retriedAt === now) out.retried++;
        else if (a && wants(a)) keep.push(a);
        else out.changed++;
      }
      curs.splice(i, batch.length, ...keep);
    } else throw v.error;
  }
}

/**
 * The records of `ids` that `keep` takes, with their versions, read in multiReads packed by
 * size as record-reads.ts estimates it (a few probed first while nothing is known); gone or
 * unreadable ones left out; the others dropped as they are read (a bulk retry reads every
 * done record, most of them succeeded: big, and not wanted). Stops once the kept records'
 * bytes reach `budget`: `rest` are the ids not read yet.
 */
async function readVersioned(
  tx: Tx,
  sizes: RecordSizes,
  ids: readonly string[],
  keep: (v: VersionedRecord) => boolean,
  budget: number,
): Promise<{ kept: VersionedRecord[]; scanned: number; rest: string[] }> {
  const out: VersionedRecord[] = [];
  let scanned = 0;
  let bytes = 0;
  const sent = new Set<string>();
  const readGroup = async (group: readonly string[]) => {
    for (const id of group) sent.add(id);
    const paths = group.map((id) => tx.paths.task(id));
    const got = await tx.session.retrying(() => tx.session.getDataMany(paths, { maxPerRequest: group.length }));
    sizes.probed = true;
    got.forEach((r, k) => {
      if (!r.ok) {
        if (r.code === NO_NODE) return; // purged meanwhile
        throw fromClientError(Object.assign(new Error(`ZooKeeper error ${r.code}`), { code: r.code }), { op: 'getData', path: paths[k] });
      }
      sizes.note(group[k]!, r.data.length);
      let v: VersionedRecord;
      try {
        v = { record: decodeRecord(r.data, group[k]), version: r.stat.version };
      } catch (err) {
        if (!(err instanceof MalformedRecordError)) throw err;
        return;
      }
      scanned++;
      if (!keep(v)) return;
      out.push(v);
      bytes += r.data.length;
    });
  };
  const full = () => bytes >= budget;
  const probe = sizes.probe(ids);
  if (probe.length > 0) await readGroup(probe);
  // Packed by what was read so far (the probe's sizes included).
  for (const group of sizes.groups(ids.filter((id) => !sent.has(id)))) {
    if (full()) break;
    await readGroup(group);
  }
  return { kept: out, scanned, rest: full() ? ids.filter((id) => !sent.has(id)) : [] };
}
