// What every fault injector shares: the context it works in, what it reports, and the
// helpers for picking its targets and reading what they logged.
import type { ChaosCluster, Slot } from './cluster.js';
import type { Rng } from './prng.js';
import type { FaultSpan, Timeline } from './timeline.js';

export interface FaultContext {
  cluster: ChaosCluster;
  rng: Rng;
  timeline: Timeline;
  sessionTimeoutMs: number;
}

export type Result = Omit<FaultSpan, 'kind' | 'start' | 'end'>;
export type Injector = (ctx: FaultContext) => Promise<Result>;

/** The slots a fault may take: running, not cut off, not held by another fault. */
export const running = (slots: Slot[]) => slots.filter((s) => s.running && !s.cut && !s.held);

/** Log lines of a master that stops leading: deposed while leading, or while still rebuilding. */
export const isStepDown = (msg: unknown): boolean =>
  typeof msg === 'string' && (msg.startsWith('stepped down') || msg.startsWith('could not rebuild the picture'));
