// One timer that wakes a leader part with no ZooKeeper event (the rounds: a backoff ending, a
// deadline, the next start token; the scheduler: the next occurrence, a retry): re-armed as it
// goes, cleared on stop, never holding the process open.
import type { LeaderContext } from './leader-context.js';

/** setTimeout fires after 1 ms for any delay above 2^31 - 1 ms: wake-ups further out are clamped (and re-armed then). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Past the moment itself: a timer Node fires a hair early must not find nothing due yet. */
const SLACK_MS = 5;

export class WakeTimer {
  private timer?: NodeJS.Timeout;

  constructor(private readonly ctx: Pick<LeaderContext, 'kick' | 'stopped'>) {}

  /** Wakes a round in `ms` (none: null). */
  in(ms: number | null): void {
    clearTimeout(this.timer);
    if (ms === null || this.ctx.stopped) return;
    this.timer = setTimeout(() => this.ctx.kick(), Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(ms)) + SLACK_MS));
    this.timer.unref();
  }

  /** Wakes a round at `at` (ms epoch; none: null). */
  at(at: number | null): void {
    this.in(at === null ? null : at - Date.now());
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
