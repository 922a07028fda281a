// A loop that retries after an error (a leader's round, a worker's watch) must not spin on a
// NO_AUTH: the same identity gets the same answer until an operator fixes the ACL or the
// credentials. This logs each distinct refusal once, at error level, and stretches the pause
// before the next try (1 s doubling to a minute); any other error keeps the caller's pause.
// It owns the retry timer: `waiting` is "a refusal's timer has not fired yet", cleared by that
// timer itself, not a deadline compared with the clock (Node may fire a timer a little before
// its deadline as Date.now() sees it: a try gated on the clock would be skipped and never
// scheduled again).
import type { Logger } from '../log.js';
import { NoAuthError } from './errors.js';

const FIRST_MS = 1000;
const MAX_MS = 60_000;
/** Kinds of refusal remembered (the oldest forgotten first): a loop meets a handful. */
const MAX_SEEN = 64;

/** Runs `fn` after about `ms` (tests pass one that fires early). */
export type BackoffTimer = (fn: () => void, ms: number) => void;
const unrefTimer: BackoffTimer = (fn, ms) => void setTimeout(fn, ms).unref();

export class NoAuthBackoff {
  private readonly seen = new Set<string>();
  private refusals = 0;
  /** The id of the refusal timer still to fire (0: none); a later refusal's timer supersedes it. */
  private pending = 0;
  private timers = 0;

  constructor(
    private readonly log: Logger,
    private readonly timer: BackoffTimer = unrefTimer,
  ) {}

  /**
   * The pause before the next try after `err`: `usualMs` unless it is a NoAuthError (logged
   * once per kind of refusal: permission, kind of node, identity; not once per task), then
   * 1 s, 2 s, ... up to 60 s for successive refusals.
   */
  delayAfter(err: unknown, usualMs: number): number {
    if (!(err instanceof NoAuthError)) return usualMs;
    const key = err.refusal ?? err.message;
    if (!this.seen.has(key)) {
      if (this.seen.size >= MAX_SEEN) this.seen.delete(this.seen.values().next().value!);
      this.seen.add(key);
      this.log.error({ err: err.message }, err.message);
    }
    const ms = Math.max(usualMs, Math.min(MAX_MS, FIRST_MS * 2 ** Math.min(this.refusals, 10)));
    this.refusals += 1;
    return ms;
  }

  /**
   * Calls `retry` after the pause `delayAfter(err, usualMs)` gives (returned). After a refusal
   * `waiting` stays true until this timer fires: tries kicked by events meanwhile are skipped,
   * and the timer's `retry` finds `waiting` false.
   */
  schedule(err: unknown, usualMs: number, retry: () => void): number {
    const ms = this.delayAfter(err, usualMs);
    if (!(err instanceof NoAuthError)) {
      this.timer(retry, ms);
      return ms;
    }
    const id = ++this.timers;
    this.pending = id;
    this.timer(() => {
      if (this.pending === id) this.pending = 0;
      retry();
    }, ms);
    return ms;
  }

  /** True while a refusal's pause runs: a try kicked by an event then waits for the back-off's timer. */
  get waiting(): boolean {
    return this.pending !== 0;
  }

  /** A try went through: the next refusal starts from 1 s again, and is logged again. */
  succeeded(): void {
    this.refusals = 0;
    this.pending = 0;
    this.seen.clear();
  }

  /** Whether `err` was a refusal (its caller then logs nothing more itself). */
  static is(err: unknown): err is NoAuthError {
    return err instanceof NoAuthError;
  }
}
