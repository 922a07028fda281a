// The cluster at a glance: who leads, the masters, each worker (state, load, labels, types),
// queue depth, tasks in progress, finished tasks split by how they ended, and the queued tasks
// no live worker can take (status-waiting.ts), what is paused and who drains (control/).
//
// Requests: the election (1 getChildren + 1 getData), workers/ (1 getChildren) and every
// member's data with its assign/ directory's stat (1 multiRead per 50 members), every queue
// and done shard's stat (1 multiRead for up to 512 shards: numChildren is the count), what the
// queue waits for (1 getData of leader-status, shared with the limits, or its sample), the finished split, and control
// (1 getData of control/paused, 1 getChildren of control/drain, 1 multiRead if it has requests),
// the limits with the leader's counts (status-limits.ts: 1 getData of control/limits) and the tasks waiting on
// their parents (dag/waiting/<shard> stats, in the shard stats' multiRead).
//
// The finished split: a done entry's name says when a task ended, not how, so the split is
// read from records: FINISHED_SAMPLE of them at most, taken from whole done shards in order
// (the hash spreads tasks evenly over shards, so the first shards are a fair sample), in
// multiReads. Below FINISHED_SAMPLE finished tasks the counts are exact; above it they are
// scaled and say so (`finishedSample.read < of`): ≤ 1 listing and ~10 multiReads at any size.
import { readControl, type PausedScopes } from '../shared/protocol/control.js';
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { readLimits } from '../shared/protocol/limits.js';
import { Paths } from '../shared/protocol/paths.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { listCandidates, readLeader } from '../shared/zk/election.js';
import type { MemberInfo } from '../shared/zk/membership.js';
import type { ZkSession } from '../shared/zk/session.js';
import { RecordSizes, readMany } from './record-reads.js';
import { childCounts, listDirs } from './shard-listing.js';
import { currentLeaderStatus, limitStatus, type LimitStatus } from './status-limits.js';
import { queueWaiting, type WaitingClass, type WaitingSample } from './status-waiting.js';

export interface WorkerStatus extends MemberInfo {
  name: string;
  load: number;
}

export interface FinishedSplit {
  succeeded: number;
  failed: number;
  cancelled: number;
  /** Records the split rests on: scaled estimates when read < of. */
  sample: { read: number; of: number };
}

export interface ClusterStatus {
  root: string;
  leader: { id: string; host: string; pid: number; epoch: number } | null;
  masters: Array<{ id: string; host: string; pid: number; epoch: number; leader: boolean }>;
  workers: WorkerStatus[];
  queue: { depth: number };
  /** Queued tasks no live worker can take (no handler for the type, labels nobody has), by type and labels. */
  waiting: WaitingClass[];
  /** How many queued records `waiting` rests on: counts are scaled estimates when read < of. */
  waitingSample: WaitingSample;
  inProgress: number;
  /** Finished tasks kept (until the retention), in all. */
  finished: number;
  /** How they ended (from a bounded sample of their records). */
  finishedBy: FinishedSplit;
  /** Scopes the leader assigns nothing of (control/paused), since when. */
  paused: PausedScopes;
  /** Workers draining: asked to (control/drain: requestedAt), or whose member state says so (null). */
  draining: DrainingWorker[];
  /** Limits per type or label (control/limits), each with its tasks assigned or running. */
  limits: LimitStatus[];
  /** Tasks waiting on their parents (dependencies) to finish. */
  dependencyWaiting: number;
}

export interface DrainingWorker {
  workerId: string;
  /** When `drover drain` asked (null: no request, the member drains on its own, e.g. on SIGTERM). */
  requestedAt: number | null;
  /** Its live members (workerId~incarnation) and their states. */
  members: Array<{ name: string; state: string }>;
}

/** Finished records status reads at most to split them by outcome. */
export const FINISHED_SAMPLE = 1000;
const MEMBERS_PER_REQUEST = 50;

export async function clusterStatus(session: ZkSession, paths: Paths): Promise<ClusterStatus> {
  const [leader, masters, workerNames, control] = await Promise.all([
    readLeader(session, paths.election),
    listCandidates(session, paths.election),
    session.retrying(() => session.getChildren(paths.workers)),
    readControl(session, paths),
  ]);
  const shards = paths.shardNames;
  const dag = new DagPaths(paths);
  const [workers, counts, leaderStatus, limitList] = await Promise.all([
    readWorkers(session, paths, workerNames.children),
    childCounts(session, [...shards.map((s) => paths.queueShard(s)), ...shards.map((s) => paths.doneShard(s)), ...shards.map((s) => dag.waitingShard(s))]),
    currentLeaderStatus(session, paths, leader?.epoch ?? null),
    readLimits(session, paths),
  ]);
  const limits = limitStatus(limitList.limits, leaderStatus);
  const queued = shards.map((shard, i) => ({ shard, entries: counts[i]! }));
  const done = shards.map((shard, i) => ({ shard, entries: counts[shards.length + i]! }));
  const dependencyWaiting = counts.slice(2 * shards.length).reduce((n, c) => n + c, 0);
  const sum = (xs: Array<{ entries: number }>) => xs.reduce((n, x) => n + x.entries, 0);
  const [{ waiting, waitingSample }, finishedBy] = await Promise.all([queueWaiting(session, paths, workers, queued, control.paused, leaderStatus), finishedSplit(session, paths, done)]);
  return {
    root: paths.root || '/',
    leader: leader ? { id: leader.id, host: leader.host, pid: leader.pid, epoch: leader.epoch } : null,
    masters: masters.map((m) => ({ id: m.id, host: m.host, pid: m.pid, epoch: m.epoch, leader: leader?.epoch === m.epoch })),
    workers: workers.sort((a, b) => (a.name < b.name ? -1 : 1)),
    queue: { depth: sum(queued) },
    waiting,
    waitingSample,
    inProgress: workers.reduce((n, w) => n + w.load, 0),
    finished: sum(done),
    finishedBy,
    paused: control.paused,
    draining: drainingWorkers(control.drains, workers),
    limits,
    dependencyWaiting,
  };
}

function drainingWorkers(drains: ReadonlyArray<{ workerId: string; requestedAt: number }>, workers: readonly WorkerStatus[]): DrainingWorker[] {
  const out = new Map<string, DrainingWorker>();
  for (const d of drains) out.set(d.workerId, { workerId: d.workerId, requestedAt: d.requestedAt, members: [] });
  for (const w of workers) {
    let e = out.get(w.id);
    if (!e && w.state === 'draining') out.set(w.id, (e = { workerId: w.id, requestedAt: null, members: [] }));
    e?.members.push({ name: w.name, state: w.state });
  }
  return [...out.values()].sort((a, b) => (a.workerId < b.workerId ? -1 : 1));
}

/** Every member's data and its assignment directory's child count, in multiReads. */
async function readWorkers(session: ZkSession, paths: Paths, names: readonly string[]): Promise<WorkerStatus[]> {
  const out: WorkerStatus[] = [];
  for (let i = 0; i < names.length; i += MEMBERS_PER_REQUEST) {
    const part = names.slice(i, i + MEMBERS_PER_REQUEST);
    const got = await session.retrying(() => session.getDataMany([...part.map((n) => paths.member(n)), ...part.map((n) => paths.assignDir(n))], { maxPerRequest: part.length * 2 }));
    part.forEach((name, k) => {
      const m = got[k]!;
      const dir = got[part.length + k]!;
      // Gone meanwhile, or not a member's data: not a live worker to show.
      if (!m.ok) return;
      try {
        const info = JSON.parse(m.data.toString('utf8')) as MemberInfo;
        out.push({ ...info, name, load: dir.ok ? dir.stat.numChildren : 0 });
      } catch {
        /* unreadable member data */
      }
    });
  }
  return out;
}

/** Finished tasks by outcome, from at most FINISHED_SAMPLE records of whole shards in order. */
async function finishedSplit(session: ZkSession, paths: Paths, done: ReadonlyArray<{ shard: string; entries: number }>): Promise<FinishedSplit> {
  const of = done.reduce((n, s) => n + s.entries, 0);
  const split: FinishedSplit = { succeeded: 0, failed: 0, cancelled: 0, sample: { read: 0, of } };
  if (of === 0) return split;
  const chosen: Array<{ path: string; count: number }> = [];
  let planned = 0;
  for (const s of done) {
    if (planned >= FINISHED_SAMPLE) break;
    if (s.entries === 0) continue;
    chosen.push({ path: paths.doneShard(s.shard), count: s.entries });
    planned += s.entries;
  }
  const ids: string[] = [];
  await listDirs(session, chosen, (_i, names) => {
    for (const name of names) {
      const e = ids.length < FINISHED_SAMPLE ? Paths.parseDoneEntry(name) : null;
      if (e) ids.push(e.taskId);
    }
  });
  // Counted as each reply comes: no record is kept.
  let read = 0;
  await readMany(session, paths, new RecordSizes(), ids, (_g, outcomes) => {
    for (const o of outcomes) {
      if (o.kind !== 'record' || !o.rec) continue;
      read++;
      const st = o.rec.state;
      if (st === 'succeeded') split.succeeded++;
      else if (st === 'failed') split.failed++;
      else if (st === 'cancelled') split.cancelled++;
    }
  });
  split.sample.read = read;
  if (read > 0 && read < of) {
    const scale = of / read;
    split.succeeded = Math.round(split.succeeded * scale);
    split.failed = Math.round(split.failed * scale);
    split.cancelled = Math.round(split.cancelled * scale);
  }
  return split;
}
