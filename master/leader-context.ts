// What the parts of a leadership (reconcile, assigner, retention) share: the session, the
// layout, the fence and a way to ask for another round. Kept apart so that no part imports
// another's class to reach them.
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import type { Fenced, LeaderTx, Verdict } from '../shared/protocol/transitions.js';
import type { LeaderHandle } from '../shared/zk/election.js';
import type { Op, ZkSession } from '../shared/zk/session.js';
import type { LeaderMetrics } from './master-metrics.js';

export interface LeadershipOptions {
  /** Finished tasks are deleted this long after they finish. */
  retentionMs: number;
  /** Extra time past a task's timeout before the leader takes it back (the worker times out first). */
  timeoutGraceMs: number;
  /** Most tasks in one assignment multi. */
  assignBatch: number;
  /** How often retention runs. */
  retentionIntervalMs: number;
}

export interface LeadershipEvents {
  /** Tasks placed in one multi. */
  assigned: [count: number];
  reclaimed: [taskId: string, reason: string];
  /** The fence refused a write: we no longer lead. */
  deposed: [reason: string];
}

export class DeposedError extends Error {
  override name = 'DeposedError';
}

/** One assignment a member holds, as the leader knows it. */
export interface Held {
  member: string;
  taskId: string;
  attempt: number;
  deadline: number | null;
  /** The record's size when it was assigned (from the assignment's data): sizes batched record reads. */
  recordBytes?: number;
  /** The task's type and labels (limits count held tasks per scope): known once assigned by us or its record read. */
  type?: string;
  labels?: Record<string, string>;
  /** When the attempt was assigned (a new leader's rate buckets start from the starts it sees). */
  assignedAt?: number;
}

/** What the parts run their transitions on (a LeaderTx: session, layout, fence). */
export interface LeaderContext extends LeaderTx {
  readonly session: ZkSession;
  readonly paths: Paths;
  readonly handle: LeaderHandle;
  readonly opts: LeadershipOptions;
  readonly log: Logger;
  /** Counters of what the parts do (none when the master has no registry). */
  readonly metrics?: LeaderMetrics;
  /** True once the leadership is being dropped. */
  readonly stopped: boolean;
  /**
   * Since when the session has been connected without a break (ms, this process's clock):
   * a deadline that passed before it passed while we could not watch it.
   */
  readonly connectedSince: number;
  /** The first op of every leader multi: the check of our own election node. */
  fence(): Op;
  /** Asks for another round (coalesced). */
  kick(): void;
  emit<K extends keyof LeadershipEvents>(event: K, ...args: LeadershipEvents[K]): boolean;
}

/** A leader transition's verdict; a refused fence means we no longer lead: DeposedError. */
export function notDeposed<V extends Verdict>(ctx: LeaderContext, v: V): Exclude<V, Fenced> {
  if (v.kind === 'fenced') throw new DeposedError(`election node ${ctx.handle.path} is gone`);
  return v as Exclude<V, Fenced>;
}
