// The library's rate limits and quotas (client.limits): placeholder until built (issue 15).
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';

export class LimitApi {
  constructor(
    readonly session: ZkSession,
    readonly paths: Paths,
  ) {}
}
