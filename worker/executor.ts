// Runs one attempt of a task: the handler under its AbortSignal and time limit, turned into
// an Outcome the worker commits. It never throws: every way an attempt can end is an outcome.
import type { Logger } from '../shared/log.js';
import type { Outcome } from '../shared/protocol/task-ops.js';
import { PayloadTooLargeError, type SizeLimits, type TaskError, type TaskRecord } from '../shared/protocol/task-record.js';
import { isRetryable, type HandlerMap } from './handlers.js';

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
  /** Called just before the handler is invoked (not for unknown types or pre-aborted attempts). */
  onStart?(): void;
}

export interface ExecuteResult {
  outcome: Outcome;
  /** Set when the attempt ended because its signal aborted. */
  aborted?: AbortKind;
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

/** Longest error message kept in a record: a thrown megabyte must not make the commit too big. */
export const MAX_ERROR_MESSAGE_CHARS = 4096;

/**
 * What a handler threw, as a bounded string, whatever it threw: a non-Error, an object
 * without a prototype or whose toString throws, an Error whose message is not a string.
 */
export function errorMessage(err: unknown): string {
  let m: string;
  try {
    const raw: unknown = err instanceof Error ? err.message : err;
    m = typeof raw === 'string' ? raw : String(raw);
  } catch {
    m = Object.prototype.toString.call(err);
  }
  return m.length > MAX_ERROR_MESSAGE_CHARS ? `${m.slice(0, MAX_ERROR_MESSAGE_CHARS)}… (${m.length} characters, cut)` : m;
}

/** Validates and normalises a handler's result: JSON only, within the size limit. */
export function checkResult(taskId: string, result: unknown, limits: SizeLimits): Outcome {
  if (result === undefined) return { kind: 'success', result: null };
  let json: string | undefined;
  try {
    json = JSON.stringify(result);
  } catch (err) {
    return {
      kind: 'failure',
      error: { kind: 'handler', retryable: false, message: `result of task ${taskId} is not JSON-serialisable: ${(err as Error).message}` },
    };
  }
  if (json === undefined) {
    return {
      kind: 'failure',
      error: { kind: 'handler', retryable: false, message: `result of task ${taskId} is not JSON-serialisable (a ${typeof result})` },
    };
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > limits.maxResultBytes) {
    return {
      kind: 'failure',
      error: { kind: 'too-large', retryable: false, message: new PayloadTooLargeError('result', bytes, limits.maxResultBytes, taskId).message },
    };
  }
  // Store what JSON keeps (Dates become strings, undefined fields vanish), so the record we
  // write is exactly what a later read returns.
  return { kind: 'success', result: JSON.parse(json) };
}

export async function executeAttempt(input: ExecuteInput): Promise<ExecuteResult> {
  const { record, controller, log } = input;
  const signal = controller.signal;
  const handler = Object.hasOwn(input.handlers, record.type) ? input.handlers[record.type] : undefined;
  if (!handler) {
    // Not the task's fault (a rolling deploy: another worker may have the handler): back to
    // the queue as a lost attempt, bounded by maxLost, not a used one.
    const known = Object.keys(input.handlers).sort().join(', ');
    return {
      outcome: {
        kind: 'failure',
        error: {
          kind: 'unknown-type',
          retryable: true,
          message: `no handler for task type "${record.type}" on worker ${input.workerName} (known: ${known})`,
        },
      },
    };
  }
  // Aborted while waiting for a slot (session lost, withdrawn): do not start the handler.
  if (signal.aborted) {
    const reason = reasonOf(signal);
    return { outcome: { kind: 'failure', error: abortedError(reason) }, aborted: reason.kind };
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
  try {
    input.onStart?.();
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
      return { outcome: { kind: 'failure', error: abortedError(reason) }, aborted: reason.kind };
    }
    if (settled.ok) return { outcome: checkResult(record.id, settled.value, input.limits) };
    const err = settled.err;
    return { outcome: { kind: 'failure', error: { kind: 'handler', retryable: isRetryable(err), message: errorMessage(err) } } };
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}
