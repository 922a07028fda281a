// What a leader runs beside its rounds, each on the same fence and picture life cycle:
// dependency release (dag-release.ts) and cron schedules (scheduler.ts). Each is started once
// the picture is rebuilt and stopped with the leadership; a service's start() returns once it
// is armed (its watches set, its rebuild under way) and does the rest in the background.
// The leader's picture (metrics) reads what they hold: waiting children, active schedules.
import type { LeaderContext } from './leader-context.js';
import { DagRelease } from './dag-release.js';
import { Scheduler } from './scheduler.js';

export interface LeaderService {
  /** For logs. */
  readonly name: string;
  start(): Promise<void>;
  /** Drops what it holds; writes in flight are fenced anyway. */
  stop(): Promise<void>;
}

/** The leader's services: the list to start and stop, and the two its picture reads (metrics). */
export interface LeaderServices {
  all: readonly LeaderService[];
  dag: DagRelease;
  scheduler: Scheduler;
}

export function leaderServices(ctx: LeaderContext): LeaderServices {
  const dag = new DagRelease(ctx);
  const scheduler = new Scheduler(ctx);
  return { all: [dag, scheduler], dag, scheduler };
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
