// The part of `status` that says which queued tasks no live worker can take, and why (no
// handler for their type, labels nobody has).
//
// First choice: the leader's own account (<root>/leader-status, master/leader-status.ts). The
// leader has read every queued record it knows of, so its counts are exact, for every class
// (the biggest LEADER_STATUS_MAX_CLASSES listed, the rest counted), and it says how many
// entries it has not read yet. It is used only when written by the current leader (its
// epoch) and resting on at least as many records as a sample would (the leader reads records
// only to place them, none while no worker has a free slot); it lags the queue by up to a
// second (written at most once a second).
//
// Otherwise (no leader, or it has not published yet): queue entry names carry no type or
// labels, so this reads task records: at most WAITING_SAMPLE of them, taken from whole shards
// in order. Shards split tasks by a hash of their id, so the first shards are a fair sample of
// the queue; beyond the sample, counts are scaled estimates, a small class may be missed, and
// the status says how many records they rest on.
import { classKey, waitingReason, type PolicyWorker } from '../master/assignment-policy.js';
import type { LeaderStatus } from '../master/leader-status.js';
import { isPaused, type PausedScopes } from '../shared/protocol/control.js';
import { Paths } from '../shared/protocol/paths.js';
import { readTask } from '../shared/protocol/task-store.js';
import type { ZkSession } from '../shared/zk/session.js';

/** Records status() reads at most to tell what the queue waits for. */
export const WAITING_SAMPLE = 1000;
/** Shard listings (and record reads) in flight at once. */
const PARALLEL = 32;

export interface WaitingClass {
  type: string;
  labels: Record<string, string>;
  /** Queued tasks of this type and labels (scaled from the sample when `waitingSample.read < of`). */
  count: number;
  reason: string;
}

export interface WaitingSample {
  /** Queue entries whose records were read (by the leader, or by this status). */
  read: number;
  /** Queue entries in all. */
  of: number;
  /**
   * `leader`: the current leader's account: counts exact over the `read` entries, every class
   * counted (`omitted` beyond the list). `sample`: records this status read itself; counts
   * scaled when read < of, and a small class may be missed.
   */
  source: 'leader' | 'sample';
  /** Classes (and their tasks) the leader counted but did not list (it lists the biggest). */
  omitted?: { classes: number; tasks: number };
}

type Worker = Pick<PolicyWorker, 'labels' | 'state' | 'types'>;

/** `queued` is the entry count of every queue shard (from its stat), in shard order; `paused` what control/paused says. */
export async function queueWaiting(
  session: ZkSession,
  paths: Paths,
  workers: readonly Worker[],
  queued: ReadonlyArray<{ shard: string; entries: number }>,
  paused: PausedScopes = { all: null, types: [] },
  /** The current leader's published account (status-limits.ts: currentLeaderStatus), or null. */
  leaderStatus: LeaderStatus | null = null,
): Promise<{ waiting: WaitingClass[]; waitingSample: WaitingSample }> {
  const fromLeader = leaderStatus && leaderWaiting(leaderStatus);
  if (fromLeader) return fromLeader;
  const of = queued.reduce((n, s) => n + s.entries, 0);
  const taskIds: string[] = [];
  const shards = queued.filter((s) => s.entries > 0);
  for (let i = 0; i < shards.length && taskIds.length < WAITING_SAMPLE; i += PARALLEL) {
    const lists = await Promise.all(
      shards.slice(i, i + PARALLEL).map((s) => session.retrying(() => session.getChildren(paths.queueShard(s.shard))).then((r) => ({ shard: s.shard, names: r.children }))),
    );
    for (const { shard, names } of lists) {
      for (const name of names) {
        const e = Paths.parseQueueEntry(shard, name);
        if (e && taskIds.length < WAITING_SAMPLE) taskIds.push(e.taskId);
      }
    }
  }
  const classes = new Map<string, { type: string; labels: Record<string, string>; count: number }>();
  let read = 0;
  for (let i = 0; i < taskIds.length; i += PARALLEL * 4) {
    const recs = await Promise.all(taskIds.slice(i, i + PARALLEL * 4).map((id) => readTask(session, paths, id)));
    for (const r of recs) {
      read++;
      // Moved on (assigned, cancelled) or unreadable: the leader deals with those.
      if (r.kind !== 'ok' || r.record.state !== 'queued') continue;
      const labels = r.record.labels;
      const key = classKey(r.record.type, labels);
      const c = classes.get(key);
      if (c) c.count++;
      else classes.set(key, { type: r.record.type, labels, count: 1 });
    }
  }
  const scale = read > 0 && read < of ? of / read : 1;
  const waiting: WaitingClass[] = [];
  for (const c of classes.values()) {
    // As the leader says it (queue-index.ts): a paused type waits for the pause, whatever else.
    const reason = isPaused(paused, c.type) ? 'paused' : waitingReason(c, workers);
    if (reason) waiting.push({ type: c.type, labels: c.labels, count: Math.round(c.count * scale), reason });
  }
  waiting.sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return { waiting, waitingSample: { read, of, source: 'sample' } };
}

/** What the current leader's account says the queue waits for, or null (not usable). */
function leaderWaiting(st: LeaderStatus): { waiting: WaitingClass[]; waitingSample: WaitingSample } | null {
  if (!Array.isArray(st.waiting)) return null;
  // The leader reads records only to place them (none while no worker has a free slot): an
  // account resting on fewer records than a sample would is not the better one.
  if (st.queued - st.unclassified < Math.min(st.queued, WAITING_SAMPLE)) return null;
  const waiting = st.waiting.map((w) => ({ type: w.type, labels: { ...w.labels }, count: w.count, reason: w.reason }));
  const listed = waiting.reduce((n, w) => n + w.count, 0);
  const omitted = st.waitingClasses > waiting.length ? { omitted: { classes: st.waitingClasses - waiting.length, tasks: st.waitingTasks - listed } } : {};
  return { waiting, waitingSample: { read: st.queued - st.unclassified, of: st.queued, source: 'leader', ...omitted } };
}
