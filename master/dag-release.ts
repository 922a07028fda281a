// The leader's release of dependent tasks (issue 15): placeholder until built.
import type { LeaderContext } from './leader-context.js';
import type { LeaderService } from './leader-services.js';

export class DagRelease implements LeaderService {
  readonly name = 'dag-release';
  constructor(readonly ctx: LeaderContext) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
