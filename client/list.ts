// Listing tasks a page at a time, newest first, from index names: the queue entries' and
// done entries' names carry a time and the id (paths.ts), assignment names the id, so which
// tasks fall in a page, and how many match, is known without reading a record. Records are
// read for the page only — unless a filter needs them (--type, or one terminal state: done
// names do not say how a task ended; assigned vs running), then records are read newest
// first until the page is full, and the total is exact only once every candidate was read.
//
// Order: tasks held by a worker first (they are happening now; by id), then by the time in
// their index entry: a finished task's finishedAt, a queued task's notBefore (its submission,
// or the end of a retry's backoff). Tasks waiting for their parents (dag/waiting: bare ids)
// come with the held ones. `since` keeps tasks held or waiting now and those whose time is at
// or after it.
//
// Cost (S shards, M members, N tasks in the directories that can match):
//   stats of the S queue and/or done shards: 1 multiRead; the assign/ listing and its M
//   directories: 1 getChildren + 1 multiRead of their stats + multiReads of their names
//   packed by those counts (only when held tasks can match);
//   the names: multiReads packed to ~512 KiB replies (~2,000 names each); memory for
//   offset+limit candidates (all N only when a record filter applies: then at most
//   RECORD_SCAN of them); records: the page's, in multiReads (record-reads.ts), or with a
//   record filter, up to RECORD_SCAN of them, in chunks, until the page is full.
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { Paths } from '../shared/protocol/paths.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { isTerminal, TASK_STATES, type TaskState } from '../shared/protocol/task-state.js';
import { ConnectionLossError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { RecordSizes, readMany } from './record-reads.js';
import { childCounts, listDirs } from './shard-listing.js';

export interface ListOptions {
  state?: TaskState;
  /** The dead-letter view: the failed tasks (state failed; with `state`, it must be failed). */
  deadLetter?: boolean;
  type?: string;
  /** Only tasks whose index time is at or after this (ms since the epoch); held tasks always. */
  since?: number;
  /** Tasks per page (default 100, at most MAX_PAGE). */
  limit?: number;
  /** Tasks to skip, newest first (default 0). */
  offset?: number;
  /**
   * Records without payload, result, history and error stack (what a table of tasks shows):
   * dropped as each reply comes, so a page of big records is never held whole.
   */
  summary?: boolean;
  /** With a filter that needs records: read at most this many (default and at most RECORD_SCAN). */
  recordScan?: number;
}

export interface TaskPage {
  tasks: TaskRecord[];
  offset: number;
  limit: number;
  /** Tasks that match: exact when `exact`, else the matches found so far (a lower bound). */
  total: number;
  exact: boolean;
  /** Tasks the index names matched (state class, since): an upper bound of `total`. */
  candidates: number;
  /** Records read for this page. */
  recordsRead: number;
  /** The page stopped at MAX_PAGE_BYTES of records, before `limit`: the next one starts at offset + tasks.length. */
  cut: boolean;
}

export const MAX_PAGE = 10_000;
/** A page holds at most this many bytes of records (as stored; at least one record): 10,000 of 60 KiB would be 600 MiB. */
export const MAX_PAGE_BYTES = 64 * 1024 * 1024;
/** Deepest offset: a page holds offset+limit candidates in memory (narrow with since/state instead). */
export const MAX_OFFSET = 100_000;
/** With a filter that needs records, at most this many are read (newest first) per page. */
export const RECORD_SCAN = 10_000;
const READ_CHUNK = 500;

interface Candidate {
  id: string;
  /** Index time; Infinity for tasks held by a worker (they sort first). */
  time: number;
}

const newestFirst = (a: Candidate, b: Candidate) => b.time - a.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Keeps the `keep` newest candidates of those added, in O(n log keep) time and O(keep) memory. */
class Newest {
  private items: Candidate[] = [];
  count = 0;
  constructor(private readonly keep: number) {}
  add(c: Candidate): void {
    this.count++;
    this.items.push(c);
    if (this.items.length >= 2 * this.keep + 1024) this.trim();
  }
  private trim(): void {
    this.items.sort(newestFirst);
    this.items.length = Math.min(this.items.length, this.keep);
  }
  sorted(): Candidate[] {
    this.trim();
    return this.items;
  }
}

export async function listTasks(session: ZkSession, paths: Paths, opts: ListOptions = {}): Promise<TaskPage> {
  if (opts.deadLetter && opts.state !== undefined && opts.state !== 'failed') throw new Error(`list: the dead letter holds failed tasks, not ${opts.state}`);
  const { type, since } = opts;
  const state = opts.deadLetter ? 'failed' : opts.state;
  if (state && !TASK_STATES.includes(state)) throw new Error(`unknown state ${state}; one of ${TASK_STATES.join(', ')}`);
  const limit = opts.limit ?? 100;
  const offset = opts.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new RangeError(`list: limit must be an integer in 1..${MAX_PAGE}, got ${limit}`);
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET) throw new RangeError(`list: offset must be an integer in 0..${MAX_OFFSET} (deeper: narrow with since or state), got ${offset}`);
  const wantQueued = !state || state === 'queued';
  // A dependent task waiting for its parents: its entry (dag/waiting) is its bare id, off the time line like a held one.
  const wantWaiting = !state || state === 'waiting';
  const wantHeld = !state || state === 'assigned' || state === 'running';
  const wantDone = !state || isTerminal(state);
  // Names cannot tell these apart: records decide (bounded by RECORD_SCAN).
  const byRecord = type !== undefined || state === 'assigned' || state === 'running' || (state !== undefined && isTerminal(state));
  const newest = new Newest(byRecord ? Math.min(RECORD_SCAN, Math.max(1, opts.recordScan ?? RECORD_SCAN)) : offset + limit);
  const keep = (c: Candidate) => (since === undefined || c.time >= since) && newest.add(c);

  const shards = paths.shardNames;
  const dag = new DagPaths(paths);
  const dirs = [
    ...(wantQueued ? shards.map((s) => paths.queueShard(s)) : []),
    ...(wantDone ? shards.map((s) => paths.doneShard(s)) : []),
    ...(wantWaiting ? shards.map((s) => dag.waitingShard(s)) : []),
  ];
  const [counts, held] = await Promise.all([childCounts(session, dirs), wantHeld ? heldTaskIds(session, paths) : Promise.resolve([])]);
  for (const id of held) keep({ id, time: Infinity });
  const queuedDirs = wantQueued ? shards.length : 0;
  const waitingFrom = dirs.length - (wantWaiting ? shards.length : 0);
  await listDirs(
    session,
    dirs.map((path, i) => ({ path, count: counts[i]! })),
    (i, names) => {
      if (i >= waitingFrom) {
        for (const id of names) keep({ id, time: Infinity });
      } else if (i < queuedDirs) {
        const shard = shards[i]!;
        for (const name of names) {
          const e = Paths.parseQueueEntry(shard, name);
          if (e) keep({ id: e.taskId, time: e.notBefore });
        }
      } else {
        for (const name of names) {
          const e = Paths.parseDoneEntry(name);
          if (e) keep({ id: e.taskId, time: e.finishedAt });
        }
      }
    },
  );
  const sorted = newest.sorted();
  const sizes = new RecordSizes();
  const project = opts.summary ? summaryOf : (r: TaskRecord) => r;
  let bytes = 0;
  let cut = false;
  const full = () => (cut ||= bytes >= MAX_PAGE_BYTES);
  if (!byRecord) {
    // A task that moved between two listings (queue to a worker) can be named twice: once here.
    const page = [...new Map(sorted.slice(offset, offset + limit).map((c) => [c.id, c])).values()];
    const tasks: TaskRecord[] = [];
    let read = 0;
    for (let i = 0; i < page.length && !full(); i += READ_CHUNK) {
      const ids = page.slice(i, i + READ_CHUNK).map((c) => c.id);
      read += ids.length;
      for (const r of await readRecords(session, paths, sizes, ids, project)) {
        if (!r || full()) continue;
        tasks.push(r.rec);
        bytes += r.bytes;
      }
    }
    return { tasks, offset, limit, total: newest.count, exact: true, candidates: newest.count, recordsRead: read, cut };
  }
  const matches = (r: TaskRecord) => (!state || r.state === state) && (type === undefined || r.type === type);
  const tasks: TaskRecord[] = [];
  const seen = new Set<string>();
  let matched = 0;
  let read = 0;
  for (let i = 0; i < sorted.length && tasks.length < limit && !full(); ) {
    // Twice what the page still needs (a filter may match one in two), 20..READ_CHUNK.
    const chunk = Math.min(READ_CHUNK, Math.max(20, 2 * (offset + limit - matched)));
    const ids = sorted.slice(i, i + chunk).map((c) => c.id);
    i += ids.length;
    const recs = await readRecords(session, paths, sizes, ids, project);
    read += ids.length;
    for (const r of recs) {
      // A task that moved between two listings is named twice: counted and shown once.
      if (!r || !matches(r.rec) || seen.has(r.rec.id)) continue;
      seen.add(r.rec.id);
      if (matched++ >= offset && tasks.length < limit && !full()) {
        tasks.push(r.rec);
        bytes += r.bytes;
      }
    }
  }
  const exact = read >= newest.count;
  return { tasks, offset, limit, total: matched, exact, candidates: newest.count, recordsRead: read, cut };
}

/** A record as a table shows it: payload null; no result, history or stack. */
function summaryOf(r: TaskRecord): TaskRecord {
  const { result: _r, history: _h, ...rest } = r;
  const s: TaskRecord = { ...rest, payload: null };
  if (s.error) s.error = { ...s.error, stack: undefined };
  return s;
}

/**
 * The ids in every member's assignment directory (bounded by the workers' capacity): their
 * child counts in one multiRead of stats, then their names packed by those counts (a reply
 * near the budget, however many tasks each member holds).
 */
async function heldTaskIds(session: ZkSession, paths: Paths): Promise<string[]> {
  const { children: members } = await session.retrying(() => session.getChildren(paths.assign));
  const dirs = members.map((m) => paths.assignDir(m));
  const counts = await childCounts(session, dirs);
  const ids = new Set<string>();
  await listDirs(
    session,
    dirs.map((path, i) => ({ path, count: counts[i]! })),
    (_i, names) => {
      for (const name of names) {
        const a = Paths.parseAssignment(name);
        if (a) ids.add(a.taskId);
      }
    },
  );
  return [...ids];
}

/** The records of `ids`, in order, as `project` keeps them, with their stored size (null: gone meanwhile, or unreadable). */
async function readRecords(
  session: ZkSession,
  paths: Paths,
  sizes: RecordSizes,
  ids: readonly string[],
  project: (r: TaskRecord) => TaskRecord,
): Promise<Array<{ rec: TaskRecord; bytes: number } | null>> {
  const byId = new Map<string, { rec: TaskRecord; bytes: number }>();
  let failure: unknown;
  await readMany(session, paths, sizes, ids, (group, outcomes) => {
    outcomes.forEach((o, k) => {
      if (o.kind === 'record') {
        if (o.rec) byId.set(group[k]!, { rec: project(o.rec), bytes: o.bytes ?? 0 });
      } else if (o.kind === 'away' || o.kind === 'error') failure ??= o.kind === 'error' ? o.err : new ConnectionLossError('CONNECTION_LOSS', `ZooKeeper ${o.what} lost while reading task records`);
    });
  });
  if (failure) throw failure;
  return ids.map((id) => byId.get(id) ?? null);
}
