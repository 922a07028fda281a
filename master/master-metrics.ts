// A master's drover_* metrics. Counters are bumped where things happen (an increment per
// assignment multi, per reclaim, per round: nothing per task beyond that); gauges are
// computed at scrape time (prom-client `collect()`) from what the leader holds in memory, so an
// idle scrape costs no ZooKeeper request except two bounded, cached reads (master-sources.ts):
// the finished count (one multiRead over the done/ shards, at most every 10 s, on the leader)
// and, on a follower, the election directory's listing for the leader's epoch (at most every 10 s).
//
// Several masters may share one registry (a library user's process): every metric is
// get-or-create, counters are shared, and each gauge sums (the leader epoch: takes the
// highest) over the masters attached to that registry.
import { counter, gauge, histogram, perRegistry } from '../shared/metrics/get-or-create.js';
import type { Registry } from '../shared/metrics/registry.js';
import type { WaitingKind } from './assignment-policy.js';
import { PRIORITY_BANDS, type PriorityBand } from './queue-slot.js';
import { NO_WORKFLOW_METRICS, workflowMetrics, type WorkflowMetrics } from './workflow-metrics.js';

/** Why the leader took an attempt back: its worker's member node went, or its deadline passed. */
export type ReclaimReason = 'worker-gone' | 'deadline';
export const RECLAIM_REASONS: readonly ReclaimReason[] = ['worker-gone', 'deadline'];
/** Why queued tasks wait: no worker takes them (WaitingKind), or a full limit scope (control/limits) holds them. */
export type UnplaceableKind = WaitingKind | 'limit';
export const WAITING_KINDS: readonly UnplaceableKind[] = ['labels', 'type', 'no-worker', 'paused', 'limit'];
export const WORKER_STATES = ['init', 'alive', 'draining'] as const;
export type WorkerStateLabel = (typeof WORKER_STATES)[number];

/** 0.5 ms (a round with no free slot) to 10 s (a round reading its whole budget under load). */
export const ROUND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What the leadership's parts count as they go. */
export interface LeaderMetrics {
  /** Tasks placed by one committed assignment multi. */
  assigned(count: number): void;
  /** An attempt taken back; `lost`: it counted as lost to infrastructure (the record's `lost` grew). */
  reclaimed(reason: ReclaimReason, lost: boolean): void;
  /** One assignment round's duration. */
  round(seconds: number): void;
  /** Dependency release and schedules (workflow-metrics.ts). */
  readonly workflow: WorkflowMetrics;
}

/** What a leader holds in memory, read at scrape time. */
export interface LeaderPicture {
  queueByBand: Record<PriorityBand, number>;
  /** Classified queued tasks no live worker can take, by why. */
  unplaceable: Record<UnplaceableKind, number>;
  /** Queued entries whose record the leader has not read yet (not in `unplaceable` either way). */
  unclassified: number;
  queued: number;
  /** Assignments held by workers (assigned or running). */
  assigned: number;
  workers: Record<WorkerStateLabel, number>;
  /** Slots and held tasks of the workers in state alive. */
  capacity: number;
  load: number;
  /** Dependent tasks its index holds as waiting on a parent (dag-release.ts). */
  dagWaiting: number;
  /** Schedules it holds that are not paused (scheduler.ts). */
  schedules: number;
}

/** One master as its metrics see it. */
export interface MasterMetricsSource {
  leading(): boolean;
  /** The current leader's epoch as this master knows it (refreshed when due), or null. */
  leaderEpoch(): Promise<number | null>;
  /** The leader's picture; null when not leading. */
  picture(): LeaderPicture | null;
  /** Finished tasks (done entries, until retention purges them); null when not leading or not known. */
  finished(): Promise<number | null>;
}

export interface MasterMetrics extends LeaderMetrics {
  /** A leader epoch this master learned of (its own win, or another's, read): a change when newer than any it knew. */
  leaderSeen(epoch: number): void;
  /** The newest leader epoch the masters of this registry know of, or null. */
  knownEpoch(): number | null;
  /** Counts this master in the registry's gauges. */
  attach(source: MasterMetricsSource): void;
  detach(): void;
}

/** For a master without a registry. */
export const NO_MASTER_METRICS: MasterMetrics = { assigned() {}, reclaimed() {}, round() {}, workflow: NO_WORKFLOW_METRICS, leaderSeen() {}, knownEpoch: () => null, attach() {}, detach() {} };

const sourcesOf = perRegistry<Set<MasterMetricsSource>>(() => new Set());
/**
 * The newest leader epoch known, once per registry like the counter it guards: two masters of
 * one process (one cluster) learning of one election count one change, not one each.
 */
const epochOf = perRegistry<{ known: number | null }>(() => ({ known: null }));

/** The picture of each leading master attached (one per process in practice), taken once per scrape. */
function pictures(sources: Set<MasterMetricsSource>): LeaderPicture[] {
  const out: LeaderPicture[] = [];
  for (const s of sources) {
    const p = s.picture();
    if (p) out.push(p);
  }
  return out;
}

function sum(ps: LeaderPicture[], f: (p: LeaderPicture) => number): number {
  let n = 0;
  for (const p of ps) n += f(p);
  return n;
}

export function masterMetrics(registry: Registry): MasterMetrics {
  const sources = sourcesOf(registry);
  const changes = counter(registry, {
    name: 'drover_master_leader_changes_total',
    help: 'New leader epochs the masters of this process learned of (each counted once, however many masters learned it): an own election, the leader found when following starts, and the leader read at a scrape while following (at most every 10 s)',
  });
  const assignments = counter(registry, { name: 'drover_assignments_total', help: 'Tasks assigned to workers by this master while it led' });
  const reclaims = counter(registry, {
    name: 'drover_reclaims_total',
    help: 'Attempts this master took back while it led, by reason: worker-gone (its member node went), deadline (timeout + grace passed)',
    labelNames: ['reason'],
  });
  const lost = counter(registry, { name: 'drover_lost_attempts_total', help: 'Attempts this master took back as lost to infrastructure (not counted against maxAttempts)' });
  const rounds = histogram(registry, { name: 'drover_assign_round_duration_seconds', help: 'Duration of the leader’s assignment rounds', buckets: ROUND_BUCKETS });
  for (const reason of RECLAIM_REASONS) reclaims.inc({ reason }, 0);

  gauge(registry, {
    name: 'drover_master_leader',
    help: 'Masters of this process that lead now (1 or 0)',
    collect() {
      let n = 0;
      for (const s of sources) if (s.leading()) n++;
      this.set(n);
    },
  });
  gauge(registry, {
    name: 'drover_master_leader_epoch',
    help: 'The current leader’s epoch (its election sequence number) as this master knows it; -1 when unknown',
    async collect() {
      let e = -1;
      for (const v of await Promise.all([...sources].map((s) => s.leaderEpoch()))) if (v !== null) e = Math.max(e, v);
      this.set(e);
    },
  });
  /** A gauge summed over the leaders' pictures: 0 on followers. */
  const pictureGauge = (name: string, help: string, pick: (p: LeaderPicture) => number) =>
    gauge(registry, {
      name,
      help,
      collect() {
        this.set(sum(pictures(sources), pick));
      },
    });
  /** A gauge with one label, summed over the leaders' pictures; absent (no series) on followers. */
  const leaderGauge = <V extends string>(name: string, help: string, label: string, values: readonly V[], pick: (p: LeaderPicture, v: V) => number) =>
    gauge(registry, {
      name,
      help,
      labelNames: [label],
      collect() {
        this.reset();
        const ps = pictures(sources);
        if (ps.length > 0) for (const v of values) this.set({ [label]: v }, sum(ps, (p) => pick(p, v)));
      },
    });
  leaderGauge('drover_queue_depth', 'Queued tasks by priority band (high >= 7000, normal 3000..6999, low < 3000); on the leader only', 'band', PRIORITY_BANDS, (p, band) => p.queueByBand[band]);
  leaderGauge(
    'drover_queue_unplaceable_tasks',
    'Queued tasks no live worker can take, by why: labels (none carries them), type (none of those that do handles it), no-worker (no live worker), paused (drover pause holds its type), limit (a limit scope of it is full: maxRunning reached or no start token); over the records the leader has read; on the leader only',
    'reason',
    WAITING_KINDS,
    (p, reason) => p.unplaceable[reason],
  );
  pictureGauge('drover_queue_unclassified_tasks', 'Queued tasks whose record the leader has not read yet (neither placeable nor unplaceable as far as it knows); 0 on followers', (p) => p.unclassified);
  gauge(registry, {
    name: 'drover_tasks',
    help: 'Tasks by state as the leader knows them: queued, assigned (assigned or running), finished (done entries until the retention purges them, read at most every 10 s); on the leader only',
    labelNames: ['state'],
    async collect() {
      const done = await Promise.all([...sources].filter((s) => s.leading()).map((s) => s.finished()));
      this.reset();
      const ps = pictures(sources);
      if (ps.length === 0) return;
      this.set({ state: 'queued' }, sum(ps, (p) => p.queued));
      this.set({ state: 'assigned' }, sum(ps, (p) => p.assigned));
      const known = done.filter((d): d is number => d !== null);
      if (known.length > 0) this.set({ state: 'finished' }, known.reduce((a, b) => a + b, 0));
    },
  });
  leaderGauge('drover_workers', 'Live workers by state (init, alive, draining), from the leader’s members view; on the leader only', 'state', WORKER_STATES, (p, state) => p.workers[state]);
  pictureGauge('drover_cluster_capacity', 'Task slots of the workers in state alive, as the leader sees them; 0 on followers', (p) => p.capacity);
  pictureGauge('drover_cluster_load', 'Tasks held by the workers in state alive, as the leader sees them; 0 on followers', (p) => p.load);

  pictureGauge('drover_dag_waiting_tasks', 'Dependent tasks the leader holds as waiting on a parent (its in-memory index, rebuilt from dag/waiting at each takeover: it climbs from 0 while that rebuild runs); 0 on followers', (p) => p.dagWaiting);
  pictureGauge('drover_schedules', 'Schedules the leader holds that are not paused (those it cannot use are left out); 0 on followers', (p) => p.schedules);

  const epoch = epochOf(registry);
  let attached: MasterMetricsSource | undefined;
  return {
    assigned: (n) => assignments.inc(n),
    reclaimed(reason, wasLost) {
      reclaims.inc({ reason });
      if (wasLost) lost.inc();
    },
    round: (s) => rounds.observe(s),
    workflow: workflowMetrics(registry),
    leaderSeen(seen) {
      // Epochs are sequence numbers of one directory: a lower one is an older leader (a stale read).
      if (epoch.known !== null && seen <= epoch.known) return;
      epoch.known = seen;
      changes.inc();
    },
    knownEpoch: () => epoch.known,
    attach(source) {
      attached = source;
      sources.add(source);
    },
    detach() {
      if (attached) sources.delete(attached);
      attached = undefined;
    },
  };
}
