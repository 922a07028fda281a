// A round's limits step (LimitRound.begin): the limits as read applied, what is held counted,
// with no await between the two; held tasks of unknown class read first (reconcile.ts).
//
// A new leader's start-rate buckets are seeded from what the previous leader published
// (leader-status, master/leader-status.ts): its tokens per scope as of the znode's mtime. The
// starts it made in the window that have finished are not held, so the new leader cannot see
// them in assign/; its published tokens, refilled since, bound them. Off by the starts it made
// after its last publish (it publishes at most once a second, within a second of a change).
// Read once per leadership, first thing in Leadership.start (one getData, limits or not): this
// leader publishes nothing before that read is done, so it never reads its own empty account.
// The refill since is ZooKeeper's mtime (the server's clock) against this leader's Date.now():
// a leader whose clock is ahead of the server's by Δ seeds R·Δ tokens more than it should
// (behind: fewer).
import type { Paths } from '../shared/protocol/paths.js';
import { scopeKey } from '../shared/protocol/limits.js';
import { NoNodeError, SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { LEADER_STATUS_FORMAT, type LeaderStatus } from './leader-status.js';
import type { ClassGate, GateClass } from './class-gate.js';
import type { LeaderContext } from './leader-context.js';
import type { PriorBucket } from './limits.js';
import type { Reconciler } from './reconcile.js';

/** The previous leader's published buckets, read once at takeover (before this leader publishes). */
export class PriorBuckets {
  private got?: ReadonlyMap<string, PriorBucket>;

  constructor(private readonly ctx: Pick<LeaderContext, 'session' | 'paths' | 'handle' | 'log'>) {}

  /** The read is done: this leader may publish (it would otherwise read its own account). */
  get done(): boolean {
    return this.got !== undefined;
  }
  get buckets(): ReadonlyMap<string, PriorBucket> | undefined {
    return this.got;
  }

  /** Reads them; unreadable (other than a lost session): none, logged (seeded from held starts only). */
  async read(): Promise<void> {
    const { session, paths, handle, log } = this.ctx;
    try {
      this.got = await readPriorBuckets(session, paths, handle.epoch);
    } catch (err) {
      if (err instanceof SessionExpiredError || err instanceof SessionClosedError) throw err;
      log.warn({ err: (err as Error).message }, "cannot read the previous leader's status: start-rate buckets seeded from held starts only");
      this.got = new Map();
    }
  }
}

export class LimitRound {
  constructor(
    private readonly reconciler: Reconciler,
    private readonly prior: PriorBuckets,
  ) {}

  /** Room per scope from what is held now (master/limits.ts). */
  async begin(gate: ClassGate<GateClass>): Promise<void> {
    if (gate.limitsWanted) await this.reconciler.learnClasses();
    gate.applyLimits();
    if (gate.limits.active) gate.limits.beginRound(this.reconciler.held(), this.reconciler.unreadCount(), Date.now(), this.prior.buckets);
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
