// The drover_* metrics of the leader's workflows (issue 15): dependency release (dag-release.ts)
// and cron schedules (scheduler.ts). Counters are bumped on committed multis only (a try that
// was refused, fenced or whose reply was lost counts nothing: each child, each occurrence at
// most once). Its gauges (waiting children, active schedules) are the leader picture's (master-metrics.ts).
// No label grows with use: no schedule names, no task types. Created once per registry and
// shared by its masters, as master-metrics.ts's; a master without a registry has NO_WORKFLOW_METRICS.
import { counter } from '../shared/metrics/get-or-create.js';
import type { Registry } from '../shared/metrics/registry.js';

export const RELEASE_OUTCOMES = ['queued', 'dependency-failed'] as const;
export type ReleaseOutcome = (typeof RELEASE_OUTCOMES)[number];
export const OCCURRENCE_OUTCOMES = ['submitted', 'skipped'] as const;
export type OccurrenceOutcome = (typeof OCCURRENCE_OUTCOMES)[number];

export interface WorkflowMetrics {
  /** Children written by one committed release multi. */
  released(outcome: ReleaseOutcome, count: number): void;
  /** Occurrences written by one committed schedule multi. */
  occurrences(outcome: OccurrenceOutcome, count: number): void;
}

export const NO_WORKFLOW_METRICS: WorkflowMetrics = { released() {}, occurrences() {} };

export function workflowMetrics(registry: Registry): WorkflowMetrics {
  const releases = counter(registry, {
    name: 'drover_dag_releases_total',
    help: 'Dependent tasks this master released while it led, by outcome: queued (every parent done as its rule asks), dependency-failed (a parent failed or was cancelled); counted on committed release multis only',
    labelNames: ['outcome'],
  });
  const occurrences = counter(registry, {
    name: 'drover_schedule_occurrences_total',
    help: 'Schedule occurrences this master handled while it led, by outcome: submitted (its task written), skipped (missed, counted by the misfire policy in the schedule’s skipped field; not those of a pause); counted on committed multis only',
    labelNames: ['outcome'],
  });
  for (const outcome of RELEASE_OUTCOMES) releases.inc({ outcome }, 0);
  for (const outcome of OCCURRENCE_OUTCOMES) occurrences.inc({ outcome }, 0);
  return {
    released: (outcome, n) => releases.inc({ outcome }, n),
    occurrences: (outcome, n) => occurrences.inc({ outcome }, n),
  };
}
