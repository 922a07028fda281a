// The leader's cron schedules (issue 15): placeholder until built.
import type { LeaderContext } from './leader-context.js';
import type { LeaderService } from './leader-services.js';

export class Scheduler implements LeaderService {
  readonly name = 'scheduler';
  constructor(readonly ctx: LeaderContext) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
