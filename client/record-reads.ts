// Reading task records for waits: one record with its data watch (few waits), or many at
// once in multiReads (session.getDataMany, no watches) whose replies are kept near a byte
// budget. The protocol bounds one record (a request's worth, ~1 MB), not a group, and a
// record's size is not known before it is read, so a group's size is estimated from what
// this client has read (RecordSizes): the first request of all carries only PROBE records
// (and so does the first re-read of records read before), a record read before is expected
// to have grown by at most the largest growth seen (or FLOOR), one never read to be as large
// as the largest seen (or FLOOR). A record estimated over the budget is read alone. What this
// cannot see coming: records far bigger than any seen before (results of 500 KiB after a
// run of small ones), read together in one request before the estimate has learned.
import type { Paths } from '../shared/protocol/paths.js';
import { MalformedRecordError, decodeRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import { ConnectionLossError, NoNodeError, ZkError, fromClientError } from '../shared/zk/errors.js';
import type { Watcher, ZkSession } from '../shared/zk/session.js';
import { packBySize } from '../shared/util/pack.js';
import { pooled } from '../shared/util/pool.js';

export type ReadOutcome =
  /** `bytes`: the record's size as read (for the estimates). */
  | { kind: 'record'; rec: TaskRecord | null; bytes?: number }
  | { kind: 'missing' }
  /** ZooKeeper is away: the connection is down or silent (the session may live), or the session is lost. */
  | { kind: 'away'; what: 'connection' | 'session' }
  | { kind: 'error'; err: unknown };

/** Target size of one multiRead reply (well under jute.maxbuffer, 1 MiB). */
export const REPLY_BUDGET_BYTES = 512 * 1024;
/** Paths per multiRead at most. */
export const MAX_READS_PER_REQUEST = 100;
/** Least a record is expected to be (never read), or to grow by (read while unfinished). */
const FLOOR_BYTES = 4 * 1024;
/** Records in the very first multiRead, before anything is known of their sizes. */
const PROBE = 4;
/** multiReads in flight at once: enough to pipeline, and at most ~8 MiB of replies held. */
const WINDOW = 16;

/** A read's record, or why there is none. */
export function decoded(id: string, data: Buffer): ReadOutcome {
  try {
    return { kind: 'record', rec: decodeRecord(data, id), bytes: data.length };
  } catch (err) {
    // A malformed record is not an outcome: the leader marks it failed, and we see that.
    if (err instanceof MalformedRecordError) return { kind: 'record', rec: null, bytes: data.length };
    return { kind: 'error', err };
  }
}

/** What a failed read means for its waits. */
export function failed(err: unknown): ReadOutcome {
  if (err instanceof NoNodeError) return { kind: 'missing' };
  if (err instanceof ZkError && err.code === 'SESSION_EXPIRED') return { kind: 'away', what: 'session' };
  // Connection loss, or no reply within the request deadline (a RequestTimeoutError is a
  // ConnectionLossError): the connection is down or silent and the session may live.
  if (err instanceof ConnectionLossError) return { kind: 'away', what: 'connection' };
  return { kind: 'error', err };
}

/** Reads one record and arms `watcher` on it. */
export async function readOne(session: ZkSession, paths: Paths, id: string, watcher: Watcher): Promise<ReadOutcome> {
  try {
    const { data } = await session.retrying(() => session.getData(paths.task(id), watcher));
    return decoded(id, data);
  } catch (err) {
    return failed(err);
  }
}

/** What this client has seen of record sizes, for the next groups' estimates. */
export class RecordSizes {
  /** Last size read of the records being waited on (unfinished ones: finished waits are over). */
  private readonly last = new Map<string, number>();
  private largest = 0;
  private largestGrowth = 0;
  /** A multiRead has been answered: the estimates of records never read rest on something. */
  probed = false;
  /** A record has been read again: the estimates of growth rest on something. */
  grown = false;

  note(id: string, bytes: number): void {
    const before = this.last.get(id);
    if (before !== undefined) {
      this.grown = true;
      this.largestGrowth = Math.max(this.largestGrowth, bytes - before);
    }
    this.largest = Math.max(this.largest, bytes);
    this.last.set(id, bytes);
  }

  known(id: string): boolean {
    return this.last.has(id);
  }

  /** What to read first, alone, before the estimates can be trusted for the rest (none when they can). */
  probe(ids: readonly string[]): string[] {
    if (ids.length <= PROBE) return [];
    if (!this.probed) return ids.slice(0, PROBE);
    if (this.grown) return [];
    // Read before, never again: a few of those first, to learn how much a finish adds.
    const known = ids.filter((id) => this.last.has(id));
    return known.length > PROBE ? known.slice(0, PROBE) : [];
  }

  forget(id: string): void {
    this.last.delete(id);
  }

  estimate(id: string): number {
    const before = this.last.get(id);
    if (before !== undefined) return before + Math.max(FLOOR_BYTES, this.largestGrowth);
    return Math.max(FLOOR_BYTES, this.largest);
  }

  /** Splits ids into groups of one request each: ≤ MAX_READS_PER_REQUEST, estimated ≤ the budget. */
  groups(ids: readonly string[]): string[][] {
    return packBySize(ids, (id) => this.estimate(id), REPLY_BUDGET_BYTES, MAX_READS_PER_REQUEST);
  }
}

/**
 * Reads many records in multiReads (no watches), WINDOW requests in flight; `each` gets every
 * group's outcomes as its reply comes. A group whose request fails (connection loss, expiry)
 * gets that failure for each of its records.
 */
export async function readMany(
  session: ZkSession,
  paths: Paths,
  sizes: RecordSizes,
  ids: readonly string[],
  each: (ids: readonly string[], outcomes: ReadOutcome[]) => void,
): Promise<void> {
  let rest = ids;
  const probe = sizes.probe(ids);
  if (probe.length > 0) {
    // Sizes (or growth) not known yet: a small first request, then the rest by what it showed.
    await readGroup(session, paths, sizes, probe, each);
    const sent = new Set(probe);
    rest = ids.filter((id) => !sent.has(id));
  }
  await pooled(sizes.groups(rest), (g) => readGroup(session, paths, sizes, g, each), WINDOW);
}

async function readGroup(
  session: ZkSession,
  paths: Paths,
  sizes: RecordSizes,
  ids: readonly string[],
  each: (ids: readonly string[], outcomes: ReadOutcome[]) => void,
): Promise<void> {
  const list = ids.map((id) => paths.task(id));
  let outcomes: ReadOutcome[];
  try {
    const results = await session.retrying(() => session.getDataMany(list, { maxPerRequest: list.length }));
    sizes.probed = true;
    outcomes = results.map((r, i) => {
      if (r.ok) return decoded(ids[i]!, r.data);
      return failed(fromClientError(Object.assign(new Error(`ZooKeeper error ${r.code}`), { code: r.code }), { op: 'getData', path: list[i] }));
    });
  } catch (err) {
    const r = failed(err);
    outcomes = ids.map(() => r);
  }
  for (let i = 0; i < ids.length; i++) {
    const o = outcomes[i]!;
    if (o.kind === 'record' && o.bytes !== undefined) sizes.note(ids[i]!, o.bytes);
  }
  each(ids, outcomes);
}
