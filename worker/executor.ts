// Runs one attempt of a task: the handler under its AbortSignal and time limit, turned into
// an Outcome the worker commits. It never throws: every way an attempt can end is an outcome.
import type { Logger } from '../shared/log.js';
import { cutMessage, errorMessage } from '../shared/protocol/messages.js';
import type { Outcome } from '../shared/protocol/task-ops.js';
import { MAX_STACK_CHARS, PayloadTooLargeError, type SizeLimits, type TaskError, type TaskRecord } from '../shared/protocol/task-record.js';
import { isRetryable, type HandlerMap, type ParentOutcome } from './handlers.js';
import { jsonSize } from '../shared/util/json-size.js';

/** Why an attempt's signal aborted; `stopping` attempts are not committed (the leader reclaims them). */
export type AbortKind = 'timeout' | 'withdrawn' | 'session-lost' | 'stopping';

/** The reason put on an attempt's AbortSignal, so a handler can `throw ctx.signal.reason`. */
export class AttemptAbortedError extends Error {
  override name = 'AttemptAbortedError';
  constructor(
    readonly kind: AbortKind,
    message: string,
  ) {
    super(message);
  }
}

export interface ExecuteInput {
  record: TaskRecord;
  handlers: HandlerMap;
  /** Member name, for messages. */
  workerName: string;
  /** Owned by the caller, who aborts it on withdrawal, session loss or stop. */
  controller: AbortController;
  limits: SizeLimits;
  log: Logger;
  progress(value: unknown): void;
  /** ctx.parents(): the outcomes of the task's dependencies, read when the handler asks (absent: none). */
  parents?: () => Promise<ParentOutcome[]>;
  /** Called just before the handler is invoked (not for unknown types or pre-aborted attempts). */
  onStart?(): void;
}

export interface ExecuteResult {
  outcome: Outcome;
  /** Set when the attempt ended because its signal aborted. */
  aborted?: AbortKind;
  /** From the handler's call to its end (or the abort we stopped awaiting it at), in fractional ms; 0 when it never ran. */
  durationMs: number;
}

/** A thrown Error's stack, cut to MAX_STACK_CHARS; none for a non-Error or a stack getter that throws. */
export function errorStack(err: unknown): string | undefined {
  try {
    const stack: unknown = err instanceof Error ? err.stack : undefined;
    return typeof stack === 'string' ? cutMessage(stack, MAX_STACK_CHARS) : undefined;
  } catch {
    return undefined;
  }
}

function abortedError(reason: AttemptAbortedError): TaskError {
  switch (reason.kind) {
    case 'timeout':
      return { kind: 'timeout', retryable: true, message: reason.message };
    case 'withdrawn':
      return { kind: 'cancelled', retryable: false, message: reason.message };
    default:
      return { kind: 'worker-lost', retryable: true, message: reason.message };
  }
}

function reasonOf(signal: AbortSignal): AttemptAbortedError {
  const r: unknown = signal.reason;
  return r instanceof AttemptAbortedError ? r : new AttemptAbortedError('stopping', String((r as Error)?.message ?? r));
}

// Bounded messages (the cut of a handler's error) are the protocol's: shared/protocol/messages.ts.

/** Validates and normalises a handler's result: JSON only, within the size limit. */
export function checkResult(taskId: string, result: unknown, limits: SizeLimits): Outcome {
  if (result === undefined) return { kind: 'success', result: null };
  let sized: ReturnType<typeof jsonSize>;
  try {
    sized = jsonSize(result);
  } catch (err) {
    return {
      kind: 'failure',
      error: { kind: 'handler', retryable: false, message: `result of task ${taskId} is not JSON-serialisable: ${(err as Error).message}` },
    };
  }
  if (sized === undefined) {
    return {
      kind: 'failure',
      error: { kind: 'handler', retryable: false, message: `result of task ${taskId} is not JSON-serialisable (a ${typeof result})` },
    };
  }
  if (sized.bytes > limits.maxResultBytes) {
    return {
      kind: 'failure',
      error: { kind: 'too-large', retryable: false, message: new PayloadTooLargeError('result', sized.bytes, limits.maxResultBytes, taskId).message },
    };
  }
  // Store what JSON keeps (Dates become strings, undefined fields vanish), so the record we
  // write is exactly what a later read returns.
  return { kind: 'success', result: JSON.parse(sized.json) };
}

/** How many of its handler names an unknown-type failure lists. */
const KNOWN_TYPES_SHOWN = 20;

export async function executeAttempt(input: ExecuteInput): Promise<ExecuteResult> {
  const { record, controller, log } = input;
  const signal = controller.signal;
  const handler = Object.hasOwn(input.handlers, record.type) ? input.handlers[record.type] : undefined;
  if (!handler) {
    // Not the task's fault (a rolling deploy: another worker may have the handler): back to
    // the queue as a lost attempt, bounded by maxLost, not a used one.
    // The names it knows, bounded: a worker may have thousands of handlers.
    const names = Object.keys(input.handlers).sort();
    const known = names.slice(0, KNOWN_TYPES_SHOWN).join(', ') + (names.length > KNOWN_TYPES_SHOWN ? `, … ${names.length - KNOWN_TYPES_SHOWN} more` : '');
    const message = cutMessage(`no handler for task type "${record.type}" on worker ${input.workerName} (known: ${known})`);
    return { outcome: { kind: 'failure', error: { kind: 'unknown-type', retryable: true, message } }, durationMs: 0 };
  }
  // Aborted while waiting for a slot (session lost, withdrawn): do not start the handler.
  if (signal.aborted) {
    const reason = reasonOf(signal);
    return { outcome: { kind: 'failure', error: abortedError(reason) }, aborted: reason.kind, durationMs: 0 };
  }

  let timer: NodeJS.Timeout | undefined;
  if (record.timeoutMs > 0) {
    timer = setTimeout(
      () => controller.abort(new AttemptAbortedError('timeout', `timed out after ${record.timeoutMs} ms`)),
      record.timeoutMs,
    );
  }
  // A handler that ignores its signal must not hold the worker: we stop awaiting it on abort.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((res) => {
    onAbort = () => res('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  let t0 = performance.now();
  const ran = () => performance.now() - t0;
  try {
    input.onStart?.();
    t0 = performance.now();
    const run = Promise.resolve().then(() =>
      // A copy: a handler that changes its payload must not change the stored task.
      handler(structuredClone(record.payload), {
        taskId: record.id,
        type: record.type,
        attempt: record.attempt,
        maxAttempts: record.maxAttempts,
        signal,
        log,
        progress: input.progress,
        parents: input.parents ?? (() => Promise.resolve([])),
      }),
    );
    run.catch(() => undefined); // it may reject after we stopped listening
    const settled = await Promise.race([
      run.then(
        (value) => ({ ok: true as const, value }),
        (err: unknown) => ({ ok: false as const, err }),
      ),
      aborted,
    ]);
    if (settled === 'aborted' || signal.aborted) {
      const reason = reasonOf(signal);
      return { outcome: { kind: 'failure', error: abortedError(reason) }, aborted: reason.kind, durationMs: ran() };
    }
    if (settled.ok) return { outcome: checkResult(record.id, settled.value, input.limits), durationMs: ran() };
    const err = settled.err;
    // A sandbox refuses an oversized result before it crosses (worker/sandbox/): the same
    // error as our own check, no stack (it is the sandbox's bookkeeping). A handler's own
    // PayloadTooLargeError (its submit's payload) is the handler's failure.
    if (err instanceof PayloadTooLargeError && err.field === 'result') return { outcome: { kind: 'failure', error: { kind: 'too-large', retryable: false, message: err.message } }, durationMs: ran() };
    const stack = errorStack(err);
    const error: TaskError = { kind: 'handler', retryable: isRetryable(err), message: errorMessage(err), ...(stack !== undefined ? { stack } : {}) };
    return { outcome: { kind: 'failure', error }, durationMs: ran() };
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
