// The sandbox side: runs in a worker thread or a forked child process, loads the handlers
// module once (loadHandlers: the same shapes and the same errors as `--handlers`), then runs
// one task at a time as the worker asks. Its ctx forwards progress, log lines and parents()
// to the worker; an abort message aborts ctx.signal (the worker kills us if we ignore it).
import { isMainThread, parentPort, workerData, Worker as Thread } from 'node:worker_threads';
import { errorMessage } from '../../shared/protocol/messages.js';
import { jsonSize } from '../../shared/util/json-size.js';
import { PROGRESS_INTERVAL_MS, PROGRESS_TOO_LARGE } from '../progress.js';
import { isRetryable, loadHandlers, type HandlerMap, type ParentOutcome, type TaskContext } from '../handlers.js';
import { SANDBOX_LOG_LEVELS, type FromSandbox, type SandboxStart, type ToSandbox } from './protocol.js';
import type { Logger } from '../../shared/log.js';

const send: (m: FromSandbox) => void = isMainThread ? (m) => process.send!(m) : (m) => parentPort!.postMessage(m);
/** How often a process sandbox checks that its parent is still the worker. */
const WATCHDOG_POLL_MS = 500;
const start: SandboxStart = isMainThread ? (JSON.parse(process.argv[2] ?? '{}') as SandboxStart) : (workerData as SandboxStart);

if (isMainThread) guardProcess();

/**
 * A process sandbox outlives neither its worker nor the worker's own signals. Before the
 * module loads (a load may hang or spin): the worker going closes our IPC channel
 * ('disconnect'), and since that event needs our event loop, which a CPU-bound handler holds,
 * a watchdog thread also polls our parent pid and SIGKILLs us once it is not the worker's
 * (a kill -9 of the worker reparents us). SIGINT/SIGTERM are ignored: a Ctrl-C or systemd's
 * cgroup SIGTERM reaches us with the worker, which drains and then ends us itself.
 */
function guardProcess(): void {
  process.on('disconnect', () => process.exit(0));
  if (!process.connected) process.exit(0);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => undefined);
  if (start.parentPid === undefined) return;
  const watchdog = `const { workerData: ppid } = require('node:worker_threads');
setInterval(() => { if (process.ppid !== ppid) process.kill(process.pid, 'SIGKILL'); }, ${WATCHDOG_POLL_MS});`;
  new Thread(watchdog, { eval: true, workerData: start.parentPid }).unref();
}

interface Current {
  id: number;
  controller: AbortController;
  /** parents() calls not yet answered, in the order asked (the worker answers in that order). */
  parents: { resolve(v: ParentOutcome[]): void; reject(e: Error): void }[];
}
let current: Current | undefined;

/** A pino-shaped logger whose lines the worker writes (with the attempt's fields). */
function sandboxLogger(id: number): Logger {
  const log: Record<string, unknown> = { level: 'trace', child: () => log };
  for (const level of SANDBOX_LOG_LEVELS) {
    log[level] = (a?: unknown, b?: unknown) => {
      const obj = a !== null && typeof a === 'object' ? (a as Record<string, unknown>) : {};
      const msg = typeof a === 'string' ? a : typeof b === 'string' ? b : undefined;
      try {
        send({ t: 'log', id, level, obj, ...(msg !== undefined ? { msg } : {}) });
      } catch {
        send({ t: 'log', id, level, obj: {}, msg: `${msg ?? ''} (fields not serialisable)` });
      }
    };
  }
  return log as unknown as Logger;
}

/**
 * The JSON size of a value over the worker's result limit, else undefined: such a value is
 * refused here, not copied into the worker first (a huge string would weigh on its heap).
 * A value JSON cannot encode crosses as it is: the worker's own check says why it fails.
 */
function oversize(value: unknown): number | undefined {
  if (start.maxResultBytes === undefined) return undefined;
  let sized: ReturnType<typeof jsonSize>;
  try {
    sized = jsonSize(value);
  } catch {
    return undefined;
  }
  return sized !== undefined && sized.bytes > start.maxResultBytes ? sized.bytes : undefined;
}

/**
 * A run's progress, coalesced as the worker's ProgressWriter does: each send is a message
 * (and a JSON size check), so a handler reporting in a tight loop sends the latest value at
 * most every PROGRESS_INTERVAL_MS, not one message a call for the worker to queue.
 */
class ProgressSender {
  private latest?: { value: unknown };
  private lastSent = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly id: number) {}

  report(value: unknown): void {
    this.latest = { value };
    if (this.timer) return;
    const wait = this.lastSent + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.flush();
    this.timer = setTimeout(() => this.flush(), wait);
    this.timer.unref();
  }

  /** Sends the value not yet sent, if any (before the run's result, so it is not lost). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const latest = this.latest;
    if (!latest) return;
    this.latest = undefined;
    this.lastSent = Date.now();
    const bytes = oversize(latest.value);
    if (bytes !== undefined) return send({ t: 'log', id: this.id, level: 'warn', obj: { bytes, limit: start.maxResultBytes }, msg: PROGRESS_TOO_LARGE });
    try {
      send({ t: 'progress', id: this.id, value: latest.value });
    } catch {
      // Not cloneable: dropped, as fire-and-forget progress may be.
    }
  }
}

async function run(handlers: HandlerMap, id: number, task: Extract<ToSandbox, { t: 'run' }>['task']): Promise<void> {
  const controller = new AbortController();
  const cur: Current = { id, controller, parents: [] };
  const progress = new ProgressSender(id);
  current = cur;
  const ctx: TaskContext = {
    taskId: task.taskId,
    type: task.type,
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    signal: controller.signal,
    log: sandboxLogger(id),
    progress: (value) => progress.report(value),
    parents: () =>
      new Promise((resolve, reject) => {
        cur.parents.push({ resolve, reject });
        send({ t: 'parents-request', id });
      }),
  };
  try {
    // Its last progress value crosses before its end.
    const value = await Promise.resolve()
      .then(() => handlers[task.type]!(task.payload, ctx))
      .finally(() => progress.flush());
    const bytes = oversize(value);
    if (bytes !== undefined) return send({ t: 'too-large', id, bytes, limit: start.maxResultBytes! });
    try {
      send({ t: 'result', id, value });
    } catch (err) {
      send({ t: 'error', id, message: `result of task ${task.taskId} cannot leave the sandbox: ${errorMessage(err)}`, retryable: false });
    }
  } catch (err) {
    const e = err as Partial<Error> | null;
    const stack = typeof e?.stack === 'string' ? e.stack : undefined;
    const name = typeof e?.name === 'string' ? e.name : undefined;
    send({ t: 'error', id, message: errorMessage(err), retryable: isRetryable(err), ...(name ? { name } : {}), ...(stack ? { stack } : {}) });
  } finally {
    if (current === cur) current = undefined;
  }
}

function onMessage(handlers: HandlerMap, m: ToSandbox): void {
  if (m.t === 'run') void run(handlers, m.id, m.task);
  else if (current?.id !== m.id) return; // a message for a run that is over
  else if (m.t === 'abort') current.controller.abort(Object.assign(new Error(m.message), { name: 'AttemptAbortedError' }, m.kind !== undefined ? { kind: m.kind } : {}));
  else if (m.t === 'parents') {
    const waiter = current.parents.shift();
    if (!waiter) return;
    if (m.ok) waiter.resolve(m.parents);
    else waiter.reject(new Error(m.message));
  }
}

async function main(): Promise<void> {
  let handlers: HandlerMap;
  try {
    handlers = await loadHandlers(start.module);
  } catch (err) {
    send({ t: 'load-error', message: errorMessage(err) });
    return;
  }
  const listen = (m: unknown) => onMessage(handlers, m as ToSandbox);
  if (isMainThread) process.on('message', listen);
  else parentPort!.on('message', listen);
  send({ t: 'ready', types: Object.keys(handlers) });
}

void main();
