export interface WaitForOptions {
  /** Default 10 000 ms. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
  /** Used in the rejection on deadline. */
  message?: string;
}

/**
 * Polls `fn` until it returns (or resolves to) a truthy value, and resolves with it.
 * Rejects with `message` (plus the last error `fn` threw, if any) when the deadline
 * passes. A throw from `fn` counts as "not yet". Use it instead of bare sleeps.
 */
/** What waitFor resolves with: the value, never a falsy one. */
export type Truthy<T> = Exclude<T, null | undefined | false | 0 | ''>;

export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions = {}): Promise<Truthy<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Truthy<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = opts.message ?? 'condition not met';
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`waitFor: ${why} within ${timeoutMs} ms${last}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, Math.max(0, deadline - Date.now()))));
  }
}
