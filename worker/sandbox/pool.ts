// The worker's sandboxes: at most `size` (its concurrency) alive, each running one task at
// a time and reused between tasks (a start costs a thread or a process and the module's load
// once). A sandbox that went is dropped; the next task that needs one starts a fresh one.
// The handler map it builds is what the executor runs: nothing else in the worker changes.
import type { Logger } from '../../shared/log.js';
import type { Registry } from '../../shared/metrics/registry.js';
import type { HandlerMap, TaskContext } from '../handlers.js';
import type { SandboxConfig } from './config.js';
import { Sandbox, SandboxCrashError } from './sandbox.js';
import { sandboxMetrics, type SandboxMetrics } from './sandbox-metrics.js';

interface Waiter {
  resolve(sb: Sandbox): void;
  reject(e: unknown): void;
}

export class SandboxPool {
  private readonly all = new Set<Sandbox>();
  private readonly idle: Sandbox[] = [];
  private readonly waiters: Waiter[] = [];
  private closed = false;
  private readonly metrics?: SandboxMetrics;

  constructor(
    private readonly cfg: SandboxConfig,
    private readonly size: number,
    private readonly log: Logger,
    registry?: Registry,
  ) {
    if (registry) this.metrics = sandboxMetrics(registry, cfg.kind);
  }

  /** Starts the first sandbox and returns the module's handler types (it stays, for the first task). */
  async open(): Promise<string[]> {
    const sb = this.spawn();
    try {
      const types = await sb.ready;
      this.log.info({ sandbox: this.cfg.kind, module: this.cfg.module, pid: sb.pid, types }, 'sandbox ready');
      this.release(sb);
      return types;
    } catch (err) {
      await sb.kill();
      throw err;
    }
  }

  /** A handler for each type that runs it in a sandbox of this pool. */
  handlers(types: readonly string[]): HandlerMap {
    const map: HandlerMap = {};
    for (const type of types) map[type] = (payload: unknown, ctx: TaskContext) => this.runIn(type, payload, ctx);
    return map;
  }

  /**
   * Ends every sandbox. A run still held was aborted (a stop past its grace, a session loss):
   * its handler gets its graceMs to end (the sandbox's own timer kills it then), and the rest
   * go at once.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new SandboxCrashError('sandbox pool closed'));
    this.idle.length = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.all].map((sb) => sb.whenIdle())), new Promise((r) => (timer = setTimeout(r, this.cfg.graceMs + 500)))]);
    clearTimeout(timer);
    await Promise.all([...this.all].map((sb) => sb.kill()));
  }

  private async runIn(type: string, payload: unknown, ctx: TaskContext): Promise<unknown> {
    const sb = await this.acquire(ctx.signal);
    try {
      if (!sb.loaded) await readyUnlessAborted(sb, ctx.signal);
      return await sb.run({ taskId: ctx.taskId, type, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, payload }, ctx);
    } finally {
      this.release(sb);
    }
  }

  private spawn(): Sandbox {
    const sb = new Sandbox(this.cfg, (gone, why, reason) => {
      this.metrics?.ended(reason);
      this.all.delete(gone);
      const i = this.idle.indexOf(gone);
      if (i >= 0) this.idle.splice(i, 1);
      if (!this.closed) this.log.warn({ sandbox: this.cfg.kind, pid: gone.pid, why }, 'sandbox ended; a new one starts when a task needs it');
      this.pump();
    });
    this.all.add(sb);
    this.metrics?.started();
    return sb;
  }

  private acquire(signal: AbortSignal): Promise<Sandbox> {
    if (this.closed) return Promise.reject(new SandboxCrashError('sandbox pool closed'));
    return new Promise<Sandbox>((resolve, reject) => {
      // Waiting for one (another's handler is in its grace after an abort): our own abort ends the wait.
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      const w: Waiter = {
        resolve: (sb) => (signal.removeEventListener('abort', onAbort), resolve(sb)),
        reject: (e) => (signal.removeEventListener('abort', onAbort), reject(e)),
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
      this.pump();
    });
  }

  private release(sb: Sandbox): void {
    if (!sb.usable || this.closed) return;
    this.idle.push(sb);
    this.pump();
  }

  /** Hands sandboxes to waiting tasks: an idle one, else a new one while under `size`. */
  private pump(): void {
    while (!this.closed && this.waiters.length > 0) {
      let sb = this.idle.pop();
      while (sb && !sb.usable) sb = this.idle.pop(); // killed while idle: its end drops it
      sb ??= this.all.size < this.size ? this.spawn() : undefined;
      if (!sb) return;
      this.waiters.shift()!.resolve(sb);
    }
  }
}

/**
 * A fresh sandbox's module load, ended by the attempt's abort (a timeout, a withdrawal): a
 * load that hangs must not hold the pool's slot for ever, so that sandbox is killed then.
 */
function readyUnlessAborted(sb: Sandbox, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      void sb.kill('sandbox killed: the attempt was aborted before the module loaded', 'killed');
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    sb.ready.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The worker's handler map with a sandbox config: `base` under the module's types, and the pool to close at stop. */
export async function sandboxedHandlers(base: HandlerMap, cfg: SandboxConfig, size: number, log: Logger, registry?: Registry): Promise<{ handlers: HandlerMap; pool: SandboxPool }> {
  const pool = new SandboxPool(cfg, size, log, registry);
  const types = await pool.open();
  return { handlers: { ...base, ...pool.handlers(types) }, pool };
}
