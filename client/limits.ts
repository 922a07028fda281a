// The library's cluster-wide limits per task type or label (client.rateLimits; rules and
// znode: shared/protocol/limits.ts). The leader learns of a change through its watch on
// control/ and applies it from its next round. Requests: set/remove 1 getData + 1 setData
// (create on first use; again on a race); list 1 getData.
import { readLimits, updateLimits, withLimit, withoutLimit, type Limit, type LimitScope, type LimitSettings } from '../shared/protocol/limits.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';

export type { Limit, LimitScope, LimitSettings } from '../shared/protocol/limits.js';

export class LimitApi {
  constructor(
    readonly session: ZkSession,
    readonly paths: Paths,
  ) {}

  /** Sets the scope's limits, replacing what it had (a ControlError when they are not valid). Returns every limit now. */
  set(scope: LimitScope, settings: LimitSettings): Promise<Limit[]> {
    return updateLimits(this.session, this.paths, (cur) => withLimit(cur, scope, settings));
  }

  /** Removes the scope's limits (none: nothing changes). Returns every limit now. */
  remove(scope: LimitScope): Promise<Limit[]> {
    return updateLimits(this.session, this.paths, (cur) => withoutLimit(cur, scope));
  }

  /** Every limit, in the order set. */
  async list(): Promise<Limit[]> {
    return (await readLimits(this.session, this.paths)).limits;
  }
}
