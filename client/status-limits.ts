// What `status` shows of limits (control/limits) and of tasks waiting on their parents.
//
// Limits: the scopes from control/limits (1 getData), each with its tasks assigned or running
// from the current leader's published account (leader-status, 1 getData, read once by
// clusterStatus for this and status-waiting.ts; the leader counts them from its picture of
// assign/, exact as of its last round, published at most once a second, for the first
// LEADER_STATUS_MAX_LIMITS limits). No current leader's account (none leads, or an older
// leader's), or a limit beyond those it publishes: running is null.
// Waiting on dependencies: the sum of numChildren of dag/waiting/<shard> (one multiRead of
// stats with status' other shard stats; absent directories count 0).
import { LEADER_STATUS_FORMAT, type LeaderStatus } from '../master/leader-status.js';
import { scopeKey, type Limit } from '../shared/protocol/limits.js';
import type { Paths } from '../shared/protocol/paths.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';

export interface LimitStatus extends Limit {
  /** Tasks of the scope assigned or running (the leader's count); null when no current leader published one. */
  running: number | null;
  /** Tokens in its start-rate bucket (the leader's), when it has a rate. */
  tokens?: number;
}

/** The limits with the counts of `st` (the current leader's account, or null). */
export function limitStatus(limits: readonly Limit[], st: LeaderStatus | null): LimitStatus[] {
  const counts = new Map<string, { running: number; tokens?: number }>();
  for (const l of st?.limits ?? []) counts.set(scopeKey(l.scope), l);
  return limits.map((l) => {
    const c = counts.get(scopeKey(l.scope));
    return { ...l, running: c ? c.running : null, ...(c?.tokens !== undefined ? { tokens: c.tokens } : {}) };
  });
}

/** The current leader's published account (`leaderEpoch`: the current leader's), or null (none, another leader's, unreadable). */
export async function currentLeaderStatus(session: ZkSession, paths: Paths, leaderEpoch: number | null): Promise<LeaderStatus | null> {
  if (leaderEpoch === null) return null;
  try {
    const { data } = await session.retrying(() => session.getData(paths.leaderStatus));
    const st = JSON.parse(data.toString('utf8')) as LeaderStatus;
    return st && st.format === LEADER_STATUS_FORMAT && st.epoch === leaderEpoch ? st : null;
  } catch (err) {
    if (err instanceof NoNodeError || err instanceof SyntaxError) return null;
    throw err;
  }
}

/** One line per limit (the CLI's `status` and `limit list`). */
export function limitLine(l: LimitStatus | Limit): string {
  const scope = 'type' in l.scope ? `type ${l.scope.type}` : `label ${l.scope.label}`;
  const parts: string[] = [];
  if (l.maxRunning !== undefined) parts.push(`maxRunning ${l.maxRunning}`);
  if (l.ratePerSec !== undefined) parts.push(`rate ${l.ratePerSec}/s burst ${l.burst ?? Math.max(1, Math.ceil(l.ratePerSec))}`);
  if ('running' in l) parts.push(`running ${l.running ?? '?'}`);
  return `${scope}\t${parts.join('\t')}`;
}
