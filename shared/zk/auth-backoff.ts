// A loop that retries after an error (a leader's round, a worker's watch) must not spin on a
// NO_AUTH: the same identity gets the same answer until an operator fixes the ACL or the
// credentials. This logs each distinct refusal once, at error level, and stretches the pause
// before the next try (1 s doubling to a minute); any other error keeps the caller's pause.
import type { Logger } from '../log.js';
import { NoAuthError } from './errors.js';

const FIRST_MS = 1000;
const MAX_MS = 60_000;
/** Kinds of refusal remembered (the oldest forgotten first): a loop meets a handful. */
const MAX_SEEN = 64;

export class NoAuthBackoff {
  private readonly seen = new Set<string>();
  private refusals = 0;
  private until = 0;

  constructor(private readonly log: Logger) {}

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
    this.until = Date.now() + ms;
    return ms;
  }

  /** True while a refusal's pause runs: a try kicked by an event then waits for the caller's timer. */
  get waiting(): boolean {
    return Date.now() < this.until;
  }

  /** A round went through: the next refusal starts from 1 s again (its message is not logged again). */
  succeeded(): void {
    this.refusals = 0;
    this.until = 0;
  }

  /** Whether `err` was a refusal (its caller then logs nothing more itself). */
  static is(err: unknown): err is NoAuthError {
    return err instanceof NoAuthError;
  }
}
