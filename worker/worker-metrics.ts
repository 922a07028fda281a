// A worker's drover_* metrics: its attempts by outcome, refused commits, load and capacity,
// and the latencies of its tasks (submit → start, submit → finish, the attempt's own run).
// No ZooKeeper request: everything is known when the worker acts. `type` is the task type
// only for the worker's own handler types (a bounded set its code defines), else "other".
import { counter, gauge, histogram, perRegistry } from '../shared/metrics/get-or-create.js';
import type { Registry } from '../shared/metrics/registry.js';
import type { AttemptOutcomeLabel } from './attempt-report.js';

/** Task latencies: 1 ms (a quick handler) to an hour (a queue's wait, a long handler). */
export const TASK_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** One attached worker, as the load gauges sum it at scrape time. */
interface Load {
  running(): number;
  capacity: number;
}
const loadsOf = perRegistry(() => new Set<Load>());

export interface WorkerMetrics {
  /** An attempt was marked running: submit → start (createdAt → startedAt). */
  started(type: string, createdAt: number, startedAt: number): void;
  /** An attempt ended: its outcome and how long its handler ran. */
  ended(type: string, outcome: AttemptOutcomeLabel, durationMs: number): void;
  /** A commit the fence refused. */
  fencedCommit(): void;
  /** A task's final outcome was committed: submit → finish. */
  finished(type: string, createdAt: number, finishedAt: number): void;
  /** Stops counting this worker's load (it stopped). */
  detach(): void;
}

export function workerMetrics(registry: Registry, opts: { types: readonly string[]; running: () => number; capacity: number }): WorkerMetrics {
  const own = new Set(opts.types);
  const typeOf = (t: string) => (own.has(t) ? t : 'other');
  const attempts = counter(registry, {
    name: 'drover_worker_attempts_total',
    help: 'Attempts this worker ended, by task type and outcome (succeeded, retried, failed, timeout, too-large, unknown-type, lost, fenced, cancelled, abandoned)',
    labelNames: ['type', 'outcome'],
  });
  const fenced = counter(registry, { name: 'drover_worker_fenced_commits_total', help: 'Commits of an attempt refused by its fence (the task was reclaimed or cancelled meanwhile)' });
  const delay = histogram(registry, {
    name: 'drover_task_start_delay_seconds',
    help: "Submit to start of an attempt (the record's createdAt, or a delayed task's runAt, to its startedAt), per attempt started, by task type",
    labelNames: ['type'],
    buckets: TASK_SECONDS_BUCKETS,
  });
  const latency = histogram(registry, {
    name: 'drover_task_latency_seconds',
    help: "Submit (a delayed task: its runAt) to a final outcome (succeeded or failed) this worker committed, by task type; tasks the leader failed (attempts used up by reclaims, malformed records) or a user cancelled are not in it",
    labelNames: ['type'],
    buckets: TASK_SECONDS_BUCKETS,
  });
  const duration = histogram(registry, {
    name: 'drover_worker_attempt_duration_seconds',
    help: "How long an attempt's handler ran, by task type and outcome",
    labelNames: ['type', 'outcome'],
    buckets: TASK_SECONDS_BUCKETS,
  });
  const loads = loadsOf(registry);
  const sum = (f: (l: Load) => number) => [...loads].reduce((n, l) => n + f(l), 0);
  gauge(registry, {
    name: 'drover_worker_running',
    help: 'Attempts this process holds now (from intake to commit), over its workers',
    collect() {
      this.set(sum((l) => l.running()));
    },
  });
  gauge(registry, {
    name: 'drover_worker_capacity',
    help: 'Attempts this process may run at once (its workers\' concurrency)',
    collect() {
      this.set(sum((l) => l.capacity));
    },
  });
  const load: Load = { running: opts.running, capacity: opts.capacity };
  loads.add(load);
  // Clocks of the submitter and the worker differ: a negative span is shown as 0.
  const seconds = (from: number, to: number) => Math.max(0, to - from) / 1000;
  return {
    started: (type, createdAt, startedAt) => delay.observe({ type: typeOf(type) }, seconds(createdAt, startedAt)),
    ended(type, outcome, durationMs) {
      const labels = { type: typeOf(type), outcome };
      attempts.inc(labels);
      duration.observe(labels, durationMs / 1000);
    },
    fencedCommit: () => fenced.inc(),
    finished: (type, createdAt, finishedAt) => latency.observe({ type: typeOf(type) }, seconds(createdAt, finishedAt)),
    detach: () => void loads.delete(load),
  };
}
