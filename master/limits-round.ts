// A round's limits step (LimitRound.begin): the limits as read applied, what is held counted,
// with no await between the two; held tasks of unknown class read first (reconcile.ts).
//
// A new leader's start-rate buckets are seeded from what the previous leader published
// (leader-status, master/leader-status.ts): its tokens per scope as of the znode's mtime. The
// starts it made in the window that have finished are not held, so the new leader cannot see
// them in assign/; its published tokens, refilled since, bound them. Off by the starts it made
// after its last publish (it publishes at most once a second, within a second of a change).
// One getData, once per leadership (the first round with limits).
import type { Paths } from '../shared/protocol/paths.js';
import { scopeKey } from '../shared/protocol/limits.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { LEADER_STATUS_FORMAT, type LeaderStatus } from './leader-status.js';
import type { ClassGate, GateClass } from './class-gate.js';
import type { LeaderContext } from './leader-context.js';
import type { PriorBucket } from './limits.js';
import type { Reconciler } from './reconcile.js';

export class LimitRound {
  /** The previous leader's published buckets: read once, at the first round with limits. */
  private prior?: ReadonlyMap<string, PriorBucket>;

  constructor(
    private readonly ctx: LeaderContext,
    private readonly reconciler: Reconciler,
  ) {}

  /** Room per scope from what is held now (master/limits.ts). */
  async begin(gate: ClassGate<GateClass>): Promise<void> {
    if (gate.limitsWanted) {
      this.prior ??= await readPriorBuckets(this.ctx.session, this.ctx.paths, this.ctx.handle.epoch);
      await this.reconciler.learnClasses();
    }
    gate.applyLimits();
    if (gate.limits.active) gate.limits.beginRound(this.reconciler.held(), this.reconciler.unreadCount(), Date.now(), this.prior);
  }
}

/** The previous leader's buckets by scope key (empty: none published, ours, or unreadable). */
export async function readPriorBuckets(session: ZkSession, paths: Paths, epoch: number): Promise<Map<string, PriorBucket>> {
  const out = new Map<string, PriorBucket>();
  let st: LeaderStatus;
  let at: number;
  try {
    const { data, stat } = await session.retrying(() => session.getData(paths.leaderStatus));
    st = JSON.parse(data.toString('utf8')) as LeaderStatus;
    at = stat.mtime;
  } catch (err) {
    if (err instanceof NoNodeError || err instanceof SyntaxError) return out;
    throw err;
  }
  if (st.format !== LEADER_STATUS_FORMAT || !(st.epoch < epoch) || !Array.isArray(st.limits) || !Number.isFinite(at)) return out;
  for (const l of st.limits) {
    if (typeof l.tokens !== 'number' || !Number.isFinite(l.tokens) || !l.scope) continue;
    out.set(scopeKey(l.scope), { limit: l, tokens: Math.max(0, l.tokens), at });
  }
  return out;
}
