// One sandbox: a thread or a child process holding the handlers module, running one task at
// a time. A run settles when the handler ends, or when the sandbox goes (a crash, an exit,
// out of memory, or our kill `graceMs` after an abort the handler ignored): then as a
// retryable error saying why, and the pool replaces the sandbox.
import { PayloadTooLargeError } from '../../shared/protocol/record-errors.js';
import type { TaskContext } from '../handlers.js';
import { openChannel, type SandboxChannel, type SandboxEndReason } from './channel.js';
import { SANDBOX_LOAD_TIMEOUT_MS, type SandboxConfig } from './config.js';
import { sandboxEntryPath, type FromSandbox, type SandboxTask } from './protocol.js';

/** The attempt's sandbox went under it: retryable (the next attempt gets a fresh sandbox). */
export class SandboxCrashError extends Error {
  override name = 'SandboxCrashError';
  readonly retryable = true;
}

interface Active {
  id: number;
  ctx: TaskContext;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export class Sandbox {
  /** The handler types the module exports; rejects if it does not load or the sandbox goes first. */
  readonly ready: Promise<string[]>;
  /** Set once the sandbox is gone: why. */
  ended?: string;
  private readonly ch: SandboxChannel;
  private active?: Active;
  private runs = 0;
  /** Set by kill(), before the sandbox is gone: why, and the end's metric reason. */
  private killed?: [string, SandboxEndReason];
  /** Whether its module has loaded (`ready` resolved). */
  loaded = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly cfg: SandboxConfig,
    onEnd: (sb: Sandbox, why: string, reason: SandboxEndReason) => void,
  ) {
    this.ch = openChannel({ kind: cfg.kind, entry: sandboxEntryPath(), start: { module: cfg.module, ...(cfg.kind === 'process' ? { parentPid: process.pid } : {}), ...(cfg.maxResultBytes !== undefined ? { maxResultBytes: cfg.maxResultBytes } : {}) }, maxOldGenerationMb: cfg.maxOldGenerationMb, resourceLimits: cfg.resourceLimits });
    let ready!: (types: string[]) => void;
    let failed!: (e: Error) => void;
    this.ready = new Promise<string[]>((res, rej) => ((ready = res), (failed = rej)));
    this.ready.catch(() => undefined); // a sandbox nobody awaits (closing) may fail to start
    const loadMs = cfg.loadTimeoutMs ?? SANDBOX_LOAD_TIMEOUT_MS;
    const loadTimer = setTimeout(() => {
      failed(new SandboxLoadError(`handlers module ${cfg.module} did not load within ${loadMs} ms`));
      void this.kill(`sandbox killed: its module did not load within ${loadMs} ms`, 'killed');
    }, loadMs);
    loadTimer.unref(); // the channel is held while it starts
    this.ready.finally(() => clearTimeout(loadTimer)).catch(() => undefined);
    this.ch.onMessage((m) => {
      if (m.t === 'ready') {
        this.loaded = true;
        if (!this.active && !this.killed) this.ch.hold(false);
        ready(m.types);
      } else if (m.t === 'load-error') {
        failed(new SandboxLoadError(m.message));
        void this.kill('module failed to load', 'error');
      } else this.onRunMessage(m);
    });
    this.ch.onEnd((channelWhy, channelReason) => {
      const [why, reason] = this.killed ?? [channelWhy, channelReason];
      this.ended = why;
      failed(new SandboxCrashError(`sandbox failed to start: ${why}`));
      const a = this.active;
      this.active = undefined;
      a?.reject(new SandboxCrashError(why));
      this.becameIdle();
      onEnd(this, why, reason);
    });
  }

  get pid(): number | undefined {
    return this.ch.pid;
  }

  /** Neither gone nor being killed: a task may be handed to it. */
  get usable(): boolean {
    return this.ended === undefined && this.killed === undefined;
  }

  /** Runs one task; the caller has awaited `ready` and holds this sandbox alone. */
  run(task: SandboxTask, ctx: TaskContext): Promise<unknown> {
    // A kill in progress: its result may still arrive, but it is not for another task.
    if (!this.usable) return Promise.reject(new SandboxCrashError(this.ended ?? this.killed![0]));
    const id = ++this.runs;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      const reason = ctx.signal.reason as { message?: unknown; kind?: unknown } | undefined;
      const kind = typeof reason?.kind === 'string' ? { kind: reason.kind } : {};
      this.ch.send({ t: 'abort', id, message: String(reason?.message ?? 'aborted'), ...kind });
      timer = setTimeout(() => {
        if (this.active?.id === id) void this.kill(`sandbox terminated: the handler did not end within ${this.cfg.graceMs} ms of its abort`, 'killed');
      }, this.cfg.graceMs);
      timer.unref();
    };
    return new Promise<unknown>((resolve, reject) => {
      this.active = { id, ctx, resolve, reject };
      this.ch.hold(true);
      this.ch.send({ t: 'run', id, task });
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
    }).finally(() => {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onAbort);
      if (this.active?.id === id) this.active = undefined;
      if (!this.active && this.usable) this.ch.hold(false); // idle: it must not keep the process alive (a dying one: kill() holds it)
      this.becameIdle();
    });
  }

  /** Resolves once no run is held (at once when none is), or the sandbox is gone. */
  whenIdle(): Promise<void> {
    return this.active ? new Promise((r) => this.idleWaiters.push(r)) : Promise.resolve();
  }

  private becameIdle(): void {
    if (!this.active) for (const r of this.idleWaiters.splice(0)) r();
  }

  /** Ends the sandbox at once; `why` is what a run it held is told. */
  kill(why = 'sandbox closed', reason: SandboxEndReason = 'closed'): Promise<void> {
    this.killed ??= [why, reason];
    return this.ch.kill();
  }

  private onRunMessage(m: Exclude<FromSandbox, { t: 'ready' | 'load-error' }>): void {
    const a = this.active;
    if (!a || a.id !== m.id) return; // from a run already over
    switch (m.t) {
      case 'result':
        return a.resolve(m.value);
      case 'error': {
        // Rebuilt with what the executor reads: message, stack, and NonRetryableError's `retryable`.
        const err = Object.assign(new Error(m.message), { retryable: m.retryable });
        if (m.name) err.name = m.name;
        if (m.stack) err.stack = m.stack;
        return a.reject(err);
      }
      case 'too-large':
        return a.reject(new PayloadTooLargeError('result', m.bytes, m.limit, a.ctx.taskId));
      case 'progress':
        return a.ctx.progress(m.value);
      case 'log':
        return void a.ctx.log[m.level](m.obj, m.msg);
      case 'parents-request':
        a.ctx.parents().then(
          (parents) => this.active?.id === m.id && this.ch.send({ t: 'parents', id: m.id, ok: true, parents }),
          (err: unknown) => this.active?.id === m.id && this.ch.send({ t: 'parents', id: m.id, ok: false, message: String((err as Error)?.message ?? err) }),
        );
    }
  }
}

/** The handlers module did not load in the sandbox: loadHandlers' own message. */
export class SandboxLoadError extends Error {
  override name = 'SandboxLoadError';
}
