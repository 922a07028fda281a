// What a leader runs beside its rounds, each on the same fence and picture life cycle:
// dependency release (dag-release.ts) and cron schedules (scheduler.ts). Each is started once
// the picture is rebuilt and stopped with the leadership; a service's start() returns once it
// is armed (its watches set, its rebuild under way) and does the rest in the background.
// A third counts the first two in the registry's gauges while they run (workflow-metrics.ts).
import type { LeaderContext } from './leader-context.js';
import { DagRelease } from './dag-release.js';
import { Scheduler } from './scheduler.js';
import type { WorkflowSource } from './workflow-metrics.js';

export interface LeaderService {
  /** For logs. */
  readonly name: string;
  start(): Promise<void>;
  /** Drops what it holds; writes in flight are fenced anyway. */
  stop(): Promise<void>;
}

export function leaderServices(ctx: LeaderContext): LeaderService[] {
  const dag = new DagRelease(ctx);
  const scheduler = new Scheduler(ctx);
  return [dag, scheduler, workflowGauges(ctx, { waiting: () => dag.size.children, schedules: () => scheduler.active })];
}

/** In the gauges from start to stop (a follower's are 0); without a registry, nothing. */
function workflowGauges(ctx: LeaderContext, source: WorkflowSource): LeaderService {
  const m = ctx.metrics?.workflow;
  return {
    name: 'workflow-metrics',
    async start() {
      // Its stop may have run already: attached now, the source would stay counted.
      if (!ctx.stopped) m?.attach(source);
    },
    stop: async () => m?.detach(source),
  };
}

/** Starts every service; one that fails to start is logged, and the leadership goes on (its errors are its own). */
export async function startServices(ctx: LeaderContext, services: readonly LeaderService[]): Promise<void> {
  await Promise.all(
    services.map((s) =>
      s.start().catch((err: unknown) => {
        if (!ctx.stopped) ctx.log.warn({ service: s.name, err: (err as Error).message }, 'leader service failed to start');
      }),
    ),
  );
}

export async function stopServices(services: readonly LeaderService[]): Promise<void> {
  await Promise.all(services.map((s) => s.stop().catch(() => undefined)));
}
