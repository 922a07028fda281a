// The cluster's processes: a slot's `drover` CLI process launched (and restarted by itself
// after an exit nobody asked for), killed, drained, frozen; and the pid file a watchdog shell
// reads to kill them all if the runner itself dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TcpProxy } from '../../shared/zk-server/tcp-proxy.js';
import type { ClusterOptions } from './cluster.js';
import { repoRoot, sleep } from './util.js';

export class Slot {
  child: ChildProcess | null = null;
  incarnation = 0;
  /** Set by the runner before it kills or stops the process itself. */
  expected: 'kill9' | 'sigterm' | null = null;
  exited: Promise<void> = Promise.resolve();
  failpoints?: string;
  /** While held, an exit is not followed by an automatic restart (a fault keeps it down). */
  held = false;

  constructor(
    readonly name: string,
    readonly role: 'master' | 'worker',
    readonly proxies: TcpProxy[],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== null;
  }
  get cut(): boolean {
    return this.proxies.some((p) => p.state !== 'open');
  }
}

export class Processes {
  private stopping = false;
  private watchdog?: ChildProcess;
  private readonly pidFile: string;
  readonly execLog: string;
  private readonly bin: string;
  private readonly handlers: string;

  constructor(
    readonly opts: ClusterOptions,
    /** The cluster's slots (the same array: slots added later are covered too). */
    readonly slots: Slot[],
  ) {
    this.pidFile = join(opts.dir, 'pids');
    this.execLog = join(opts.dir, 'executions.jsonl');
    const root = repoRoot();
    this.bin = join(root, 'bin', 'drover.js');
    this.handlers = join(root, 'scripts', 'chaos', 'handlers.mjs');
  }

  private labelArgs(slot: Slot): string[] {
    const labels = this.opts.firstWorkerLabels;
    if (!labels || slot !== this.slots.find((s) => s.role === 'worker')) return [];
    return ['--labels', Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')];
  }

  /** Starts the slot's process (a new incarnation); `failpoints` arms DROVER_FAILPOINTS. */
  launch(slot: Slot, failpoints?: string): void {
    if (slot.running) throw new Error(`${slot.name} is already running (pid ${slot.pid})`);
    slot.incarnation += 1;
    slot.expected = null;
    slot.failpoints = failpoints;
    const o = this.opts;
    const zk = slot.proxies.map((p) => p.connectString).join(',');
    const common = ['--id', slot.name, '--zk', zk, '--root', o.root, '--session-timeout', String(o.sessionTimeoutMs), '--connect-timeout', '20000'];
    const args =
      slot.role === 'master'
        ? ['master', ...common]
        : ['worker', ...common, '--concurrency', String(o.concurrency), '--handlers', this.handlers, '--grace', String(o.graceMs), ...this.labelArgs(slot)];
    const env: NodeJS.ProcessEnv = { ...process.env, DROVER_LOG_LEVEL: 'info', DROVER_EXEC_LOG: this.execLog };
    delete env.DROVER_FAILPOINTS;
    if (failpoints) env.DROVER_FAILPOINTS = failpoints;
    const out = openSync(this.logFile(slot), 'w');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [this.bin, ...args], { cwd: repoRoot(), env, stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    slot.child = child;
    const pid = child.pid!;
    o.timeline.pids.set(pid, { slot: slot.name, role: slot.role, capacity: o.concurrency, startedAt: Date.now(), failpoints });
    o.timeline.note(`start ${slot.name} (pid ${pid}${failpoints ? `, failpoints ${failpoints}` : ''})`);
    this.writePids();
    slot.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (slot.child === child) slot.child = null;
        this.writePids();
        const how = slot.expected ?? (signal === 'SIGKILL' && failpoints ? 'failpoint' : 'exit');
        o.timeline.processEnd({ slot: slot.name, pid, at: Date.now(), how, code, signal });
        if (!slot.expected) {
          o.timeline.note(`${slot.name} (pid ${pid}) ended by itself: ${signal ?? `code ${code}`}${how === 'failpoint' ? ' (failpoint)' : ''}`);
          if (!this.stopping && !slot.held) {
            setTimeout(() => {
              if (!this.stopping && !slot.running && !slot.held) this.launch(slot);
            }, 500).unref();
          }
        }
        resolve();
      });
    });
  }

  async kill9(slot: Slot): Promise<number | undefined> {
    const pid = slot.pid;
    if (!slot.child || pid === undefined) return undefined;
    slot.expected = 'kill9';
    process.kill(pid, 'SIGKILL');
    await slot.exited;
    return pid;
  }

  /** SIGTERM (a drain); SIGKILL if it has not exited after `timeoutMs`. */
  async term(slot: Slot, timeoutMs: number): Promise<{ pid?: number; ms: number; forced: boolean }> {
    const pid = slot.pid;
    const t0 = Date.now();
    if (!slot.child || pid === undefined) return { ms: 0, forced: false };
    slot.expected = 'sigterm';
    process.kill(pid, 'SIGTERM');
    const done = await Promise.race([slot.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done && slot.child) {
      process.kill(pid, 'SIGKILL');
      await slot.exited;
    }
    return { pid, ms: Date.now() - t0, forced: !done };
  }

  /** The log file of the slot's current (or last) process. */
  logFile(slot: Slot): string {
    return join(this.opts.dir, `${slot.name}.${slot.incarnation}.log`);
  }

  /** SIGSTOP / SIGCONT: the process freezes (a long GC pause, a stopped VM) and resumes. */
  pause(slot: Slot): void {
    if (slot.pid !== undefined) process.kill(slot.pid, 'SIGSTOP');
  }
  resume(slot: Slot): void {
    if (slot.pid !== undefined && slot.running) process.kill(slot.pid, 'SIGCONT');
  }

  /** Kills every process (no restarts from now on), then empties the pid file and ends the watchdog. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.child && s.pid !== undefined) {
        s.expected = 'kill9';
        try {
          process.kill(s.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await Promise.all(this.slots.map((s) => s.exited));
    // Nothing left for the watchdog to kill: an empty list, so it can never hit a reused pid.
    writeFileSync(this.pidFile, '');
    this.watchdog?.kill('SIGKILL');
  }

  /**
   * If the runner itself dies (SIGKILL, a test worker torn down), a tiny shell kills the
   * drover processes listed in the pid file, the way the ZooKeeper launcher guards its JVMs.
   */
  startWatchdog(): void {
    this.writePids();
    const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; for p in $(cat "$2" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done';
    const w = spawn('sh', ['-c', script, 'drover-chaos-watchdog', String(process.pid), this.pidFile], { stdio: 'ignore', detached: true });
    w.on('error', () => {});
    w.unref();
    this.watchdog = w;
  }

  private writePids(): void {
    const pids = this.slots.map((s) => s.pid).filter((p): p is number => p !== undefined);
    writeFileSync(this.pidFile, pids.join('\n') + '\n');
  }
}
