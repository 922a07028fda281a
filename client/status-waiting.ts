// The part of `status` that says which queued tasks no live worker can take, and why (no
// handler for their type, labels nobody has). The leader cannot be asked, and queue entry
// names carry no type or labels, so this reads task records: at most WAITING_SAMPLE of them,
// taken from whole shards in order. Shards split tasks by a hash of their id, so the first
// shards are a fair sample of the queue; beyond the sample, counts are scaled estimates and
// the status says how many records they rest on.
import { waitingReason, type PolicyWorker } from '../master/assignment-policy.js';
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
  /** Queue entries whose records were read. */
  read: number;
  /** Queue entries in all. */
  of: number;
}

type Worker = Pick<PolicyWorker, 'labels' | 'state' | 'types'>;

/** `queued` is the entry count of every queue shard (from its stat), in shard order. */
export async function queueWaiting(
  session: ZkSession,
  paths: Paths,
  workers: readonly Worker[],
  queued: ReadonlyArray<{ shard: string; entries: number }>,
): Promise<{ waiting: WaitingClass[]; waitingSample: WaitingSample }> {
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
      const key = `${r.record.type}\u0000${JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]))}`;
      const c = classes.get(key);
      if (c) c.count++;
      else classes.set(key, { type: r.record.type, labels, count: 1 });
    }
  }
  const scale = read > 0 && read < of ? of / read : 1;
  const waiting: WaitingClass[] = [];
  for (const c of classes.values()) {
    const reason = waitingReason(c, workers);
    if (reason) waiting.push({ type: c.type, labels: c.labels, count: Math.round(c.count * scale), reason });
  }
  waiting.sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  return { waiting, waitingSample: { read, of } };
}
