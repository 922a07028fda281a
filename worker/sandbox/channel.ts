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

/** How a sandbox ended, for a metric label (bounded). */
export type SandboxEndReason = 'exit' | 'out-of-memory' | 'error' | 'killed' | 'closed';

export interface SandboxChannel {
  readonly pid: number | undefined;
  send(m: ToSandbox): void;
  onMessage(fn: (m: FromSandbox) => void): void;
  /** Called once, when the sandbox is gone, with why ("sandbox exited with code 3"). */
  onEnd(fn: (why: string, reason: SandboxEndReason) => void): void;
  /** Whether it keeps the worker's process alive: while it starts or runs a task, not while idle. */
  hold(on: boolean): void;
  /** Ends it at once (thread terminate, SIGKILL); resolves when it is gone. */
  kill(): Promise<void>;
}

/** How much of a child's stderr is kept to tell an out-of-memory abort from another. */
const STDERR_TAIL = 4096;
/** How long a child's end waits for its stderr to close (a grandchild may hold it for ever). */
const STDERR_CLOSE_WAIT_MS = 200;

export function openChannel(o: ChannelOptions): SandboxChannel {
  return o.kind === 'thread' ? threadChannel(o) : processChannel(o);
}

type EndFn = (why: string, reason: SandboxEndReason) => void;

function endOnce(): { end: EndFn; onEnd(fn: EndFn): void; ended: Promise<void> } {
  let last: [string, SandboxEndReason] | undefined;
  const fns: EndFn[] = [];
  let resolve!: () => void;
  const ended = new Promise<void>((r) => (resolve = r));
  return {
    end(why, reason) {
      if (last !== undefined) return;
      last = [why, reason];
      resolve();
      for (const fn of fns.splice(0)) fn(why, reason);
    },
    onEnd(fn) {
      if (last !== undefined) fn(...last);
      else fns.push(fn);
    },
    ended,
  };
}

function threadChannel(o: ChannelOptions): SandboxChannel {
  const limits: ResourceLimits = { ...o.resourceLimits, ...(o.maxOldGenerationMb !== undefined ? { maxOldGenerationSizeMb: o.maxOldGenerationMb } : {}) };
  const t = new Thread(o.entry, { workerData: o.start, resourceLimits: limits });
  const e = endOnce();
  let oom = false;
  t.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') oom = true;
    else e.end(`sandbox thread failed: ${err.message}`, 'error');
  });
  t.on('exit', (code) => (oom ? e.end(`sandbox ran out of memory (maxOldGenerationSizeMb ${limits.maxOldGenerationSizeMb ?? 'default'})`, 'out-of-memory') : e.end(`sandbox exited with code ${code}`, 'exit')));
  return {
    pid: process.pid,
    send: (m) => t.postMessage(m),
    onMessage: (fn) => void t.on('message', fn),
    onEnd: e.onEnd,
    hold: (on) => (on ? t.ref() : t.unref()),
    kill: async () => {
      t.ref(); // until it is gone: a caller awaits that
      await t.terminate().catch(() => undefined);
      await e.ended;
    },
  };
}

function processChannel(o: ChannelOptions): SandboxChannel {
  // Our own flags only: the parent's (a test runner's loaders, --inspect) are not the sandbox's.
  const execArgv = o.maxOldGenerationMb !== undefined ? [`--max-old-space-size=${o.maxOldGenerationMb}`] : [];
  const child: ChildProcess = fork(o.entry, [JSON.stringify(o.start)], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  const e = endOnce();
  let tail = '';
  child.stderr?.on('data', (b: Buffer) => {
    process.stderr.write(b); // the handler's console.error stays visible
    tail = (tail + b.toString('utf8')).slice(-STDERR_TAIL);
  });
  // The pipe stays unref'd like the child; its data still flows while the worker lives.
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  child.on('error', (err) => e.end(`sandbox process failed: ${err.message}`, 'error'));
  // The end is the child's 'exit'. Its 'close' waits for every holder of the stderr pipe (a
  // grandchild spawned with stdio 'inherit', a background process), so it is awaited only
  // briefly, for the last of stderr (V8's out-of-memory line); the ref'd timer also keeps the
  // worker's process alive until the end is reported (the pipe itself is unref'd).
  let closed = false;
  let onClosed: (() => void) | undefined;
  child.on('close', () => ((closed = true), onClosed?.()));
  child.on('exit', (code, signal) => {
    let timer: NodeJS.Timeout | undefined;
    const report = () => {
      clearTimeout(timer);
      if (/heap out of memory|Allocation failed/i.test(tail)) e.end(`sandbox ran out of memory (--max-old-space-size ${o.maxOldGenerationMb ?? 'default'})`, 'out-of-memory');
      else e.end(signal ? `sandbox killed by ${signal}` : `sandbox exited with code ${code}`, 'exit');
    };
    if (closed) return report();
    timer = setTimeout(report, STDERR_CLOSE_WAIT_MS);
    onClosed = report;
  });
  return {
    pid: child.pid,
    send: (m) => {
      // A send to a child that just went is reported by its 'exit', not here.
      if (child.connected) child.send(m, (err) => void err);
    },
    onMessage: (fn) => void child.on('message', (m) => fn(m as FromSandbox)),
    onEnd: e.onEnd,
    hold: (on) => {
      if (on) {
        child.ref();
        child.channel?.ref();
      } else {
        child.unref();
        child.channel?.unref();
      }
    },
    kill: async () => {
      child.ref(); // until it is gone: a caller awaits that
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await e.ended;
    },
  };
}
