// The two transports of a sandbox behind one face: a worker thread (resourceLimits; an
// out-of-memory thread ends with ERR_WORKER_OUT_OF_MEMORY) or a forked child process
// (--max-old-space-size; V8 says "heap out of memory" on stderr and aborts). Either way the
// end comes once, as a sentence an attempt's error can carry.
import { fork, type ChildProcess } from 'node:child_process';
import { Worker as Thread, type ResourceLimits } from 'node:worker_threads';
import type { FromSandbox, SandboxKind, SandboxStart, ToSandbox } from './protocol.js';

export interface ChannelOptions {
  kind: SandboxKind;
  entry: string;
  start: SandboxStart;
  maxOldGenerationMb?: number;
  resourceLimits?: ResourceLimits;
}

export interface SandboxChannel {
  readonly pid: number | undefined;
  send(m: ToSandbox): void;
  onMessage(fn: (m: FromSandbox) => void): void;
  /** Called once, when the sandbox is gone, with why ("sandbox exited with code 3"). */
  onEnd(fn: (why: string) => void): void;
  /** Ends it at once (thread terminate, SIGKILL); resolves when it is gone. */
  kill(): Promise<void>;
}

/** How much of a child's stderr is kept to tell an out-of-memory abort from another. */
const STDERR_TAIL = 4096;

export function openChannel(o: ChannelOptions): SandboxChannel {
  return o.kind === 'thread' ? threadChannel(o) : processChannel(o);
}

function endOnce(): { end(why: string): void; onEnd(fn: (why: string) => void): void; ended: Promise<void> } {
  let why: string | undefined;
  const fns: ((why: string) => void)[] = [];
  let resolve!: () => void;
  const ended = new Promise<void>((r) => (resolve = r));
  return {
    end(w) {
      if (why !== undefined) return;
      why = w;
      resolve();
      for (const fn of fns.splice(0)) fn(w);
    },
    onEnd(fn) {
      if (why !== undefined) fn(why);
      else fns.push(fn);
    },
    ended,
  };
}

function threadChannel(o: ChannelOptions): SandboxChannel {
  const limits: ResourceLimits = { ...o.resourceLimits, ...(o.maxOldGenerationMb !== undefined ? { maxOldGenerationSizeMb: o.maxOldGenerationMb } : {}) };
  const t = new Thread(o.entry, { workerData: o.start, resourceLimits: limits });
  t.unref(); // an idle sandbox must not keep the worker's process alive
  const e = endOnce();
  let oom = false;
  t.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') oom = true;
    else e.end(`sandbox thread failed: ${err.message}`);
  });
  t.on('exit', (code) => e.end(oom ? `sandbox ran out of memory (maxOldGenerationSizeMb ${limits.maxOldGenerationSizeMb ?? 'default'})` : `sandbox exited with code ${code}`));
  return {
    pid: process.pid,
    send: (m) => t.postMessage(m),
    onMessage: (fn) => void t.on('message', fn),
    onEnd: e.onEnd,
    kill: async () => {
      await t.terminate().catch(() => undefined);
      await e.ended;
    },
  };
}

function processChannel(o: ChannelOptions): SandboxChannel {
  // Our own flags only: the parent's (a test runner's loaders, --inspect) are not the sandbox's.
  const execArgv = o.maxOldGenerationMb !== undefined ? [`--max-old-space-size=${o.maxOldGenerationMb}`] : [];
  const child: ChildProcess = fork(o.entry, [JSON.stringify(o.start)], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  child.unref();
  child.channel?.unref();
  const e = endOnce();
  let tail = '';
  child.stderr?.on('data', (b: Buffer) => {
    process.stderr.write(b); // the handler's console.error stays visible
    tail = (tail + b.toString('utf8')).slice(-STDERR_TAIL);
  });
  // The pipe stays unref'd like the child; its data still flows while the worker lives.
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  child.on('error', (err) => e.end(`sandbox process failed: ${err.message}`));
  // 'close', not 'exit': the last of stderr (V8's out-of-memory line) has been read by then.
  child.on('close', (code, signal) => {
    if (/heap out of memory|Allocation failed/i.test(tail)) e.end(`sandbox ran out of memory (--max-old-space-size ${o.maxOldGenerationMb ?? 'default'})`);
    else e.end(signal ? `sandbox killed by ${signal}` : `sandbox exited with code ${code}`);
  });
  return {
    pid: child.pid,
    send: (m) => {
      // A send to a child that just went is reported by its 'exit', not here.
      if (child.connected) child.send(m, (err) => void err);
    },
    onMessage: (fn) => void child.on('message', (m) => fn(m as FromSandbox)),
    onEnd: e.onEnd,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await e.ended;
    },
  };
}
