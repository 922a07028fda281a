// The library's cron schedules (client.schedules): placeholder until built (issue 15).
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';

export class ScheduleApi {
  constructor(
    readonly session: ZkSession,
    readonly paths: Paths,
  ) {}
}
