// Task handlers: the user code a worker runs, the built-in ones, and loading a module of them.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../shared/log.js';

export interface TaskContext {
  taskId: string;
  type: string;
  /** 1 for the first attempt; a handler may run more than once, so it should be idempotent. */
  attempt: number;
  maxAttempts: number;
  /** Aborts on timeout, cancellation/reclaim, session loss or worker stop. */
  signal: AbortSignal;
  log: Logger;
  /** Fire-and-forget progress report, stored on the assignment node (throttled). */
  progress(value: unknown): void;
  /**
   * The outcomes of the tasks this one depends on (`dependsOn` at submit), read when asked
   * (a fan-in may have thousands): [] for a task without dependencies.
   */
  parents(): Promise<ParentOutcome[]>;
}

/** One parent of a dependent task, as its handler sees it (ctx.parents()). */
export interface ParentOutcome {
  id: string;
  type: string;
  /** succeeded, or (with onParentFailure 'run') failed or cancelled. */
  state: 'succeeded' | 'failed' | 'cancelled';
  /** Its result (succeeded), else null. */
  result: unknown;
  /** Why it failed or was cancelled. */
  error?: { kind: string; message: string };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskHandler = (payload: any, ctx: TaskContext) => unknown | Promise<unknown>;
export type HandlerMap = Record<string, TaskHandler>;

/** Thrown by a handler to fail the task at once, without further attempts. */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
  readonly retryable = false;
}

/** A handler error is retryable unless it says otherwise (class or `retryable === false`). */
export function isRetryable(err: unknown): boolean {
  if (err instanceof NonRetryableError) return false;
  return !(err !== null && typeof err === 'object' && (err as { retryable?: unknown }).retryable === false);
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}

export const builtinHandlers: HandlerMap = {
  echo: (payload: unknown) => payload,

  sleep: (payload: { ms?: unknown } | null, ctx: TaskContext) => {
    const ms = payload?.ms;
    // setTimeout cannot wait longer than 2^31-1 ms (it would fire at once).
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 2_147_483_647) {
      throw new NonRetryableError(`sleep needs a payload {ms: number in 0..2147483647}, got ${JSON.stringify(payload)}`);
    }
    return new Promise<{ sleptMs: number }>((res, rej) => {
      if (ctx.signal.aborted) return rej(abortError(ctx.signal));
      const onAbort = () => {
        clearTimeout(timer);
        rej(abortError(ctx.signal));
      };
      const timer = setTimeout(() => {
        ctx.signal.removeEventListener('abort', onAbort);
        res({ sleptMs: ms });
      }, ms);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  },

  fail: (payload: { retryable?: boolean; message?: string } | null) => {
    const retryable = payload?.retryable ?? true;
    const message = payload?.message ?? 'failed on purpose';
    throw retryable ? new Error(message) : new NonRetryableError(message);
  },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Loads handlers from a module path (resolved against the current directory). Accepted shapes:
 * `export default { type: fn }`, `export const handlers = { type: fn }`, or named function exports.
 */
export async function loadHandlers(modulePath: string): Promise<HandlerMap> {
  const abs = resolve(process.cwd(), modulePath);
  // Checked first so a missing dependency inside the module is not reported as a missing module.
  if (!existsSync(abs)) throw new Error(`handler module not found: ${abs} (from ${JSON.stringify(modulePath)})`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load handler module ${abs}: ${(err as Error).message}`);
  }
  let source: Record<string, unknown>;
  let where: string;
  if (isPlainObject(mod.default)) {
    source = mod.default;
    where = 'default export';
  } else if (isPlainObject(mod.handlers)) {
    source = mod.handlers;
    where = 'export "handlers"';
  } else {
    source = Object.fromEntries(Object.entries(mod).filter(([k]) => k !== 'default'));
    where = 'named exports';
  }
  const out: HandlerMap = {};
  for (const [key, fn] of Object.entries(source)) {
    if (typeof fn !== 'function') {
      throw new Error(`handler module ${abs}: ${where} key "${key}" is a ${fn === null ? 'null' : typeof fn}, not a function`);
    }
    out[key] = fn as TaskHandler;
  }
  if (Object.keys(out).length === 0) throw new Error(`handler module ${abs} exports no handlers`);
  return out;
}
