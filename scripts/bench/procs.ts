// The bench's child processes (master-entry.js, worker-entry.js): spawned with a watchdog
// that kills them if the bench dies outright, their stdout read as JSON lines, their stderr
// kept in a log file (its tail goes into any error about them), and every one still alive
// killed by pid when the bench exits, however it exits.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { guardChild } from '../../shared/zk-server/launcher.js';
import { tailFile } from '../../shared/zk-server/local-server.js';
import type { ZkCounts } from './counters.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface Line {
  ev: string;
  t: number;
  [k: string]: unknown;
}

const live = new Set<Child>();
let hooked = false;

/** SIGKILL every child still alive (synchronous: also safe in an 'exit' hook). */
export function killAllChildren(): void {
  for (const c of live) c.kill('SIGKILL');
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllChildren);
}

export class Child {
  readonly lines: Line[] = [];
  readonly pid: number;
  readonly exited: Promise<void>;
  alive = true;
  exitInfo = '';
  private readonly waiters = new Set<() => void>();
  private readonly proc: ChildProcess;

  constructor(
    readonly name: string,
    entry: string,
    args: unknown,
    readonly logFile: string,
  ) {
    const err = fs.openSync(logFile, 'a');
    try {
      this.proc = spawn(process.execPath, [path.join(HERE, entry), JSON.stringify(args)], { stdio: ['ignore', 'pipe', err] });
    } finally {
      fs.closeSync(err);
    }
    if (this.proc.pid === undefined) throw new Error(`bench: could not start ${name} (${entry})`);
    this.pid = this.proc.pid;
    guardChild(this.pid);
    live.add(this);
    hookExit();
    let buf = '';
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const l = JSON.parse(text) as Line;
          if (typeof l.ev === 'string') this.lines.push(l);
        } catch {
          /* not one of our lines */
        }
      }
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.alive = false;
        this.exitInfo = signal ? `killed by ${signal}` : `exit code ${code}`;
        live.delete(this);
        this.wake();
        resolve();
      });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  kill(sig: NodeJS.Signals): void {
    if (!this.alive) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  /** The first line (from index `from`) matching `pred`; rejects at the deadline or when the child exits first. */
  waitLine(pred: (l: Line) => boolean, timeoutMs: number, what: string, from = 0): Promise<Line> {
    return new Promise((resolve, reject) => {
      let i = from;
      const check = () => {
        for (; i < this.lines.length; i++) {
          const l = this.lines[i]!;
          if (l.ev === 'error') return done(new Error(`${this.name}: ${String(l.msg)}`));
          if (pred(l)) return done(null, l);
        }
        if (!this.alive) done(new Error(`${this.name} (pid ${this.pid}) ended (${this.exitInfo}) before ${what}. Its log (${this.logFile}):\n${tailFile(this.logFile, 15)}`));
      };
      const timer = setTimeout(() => done(new Error(`${this.name} (pid ${this.pid}): ${what} did not happen within ${timeoutMs} ms. Its log (${this.logFile}):\n${tailFile(this.logFile, 15)}`)), timeoutMs);
      const done = (e: Error | null, l?: Line) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (e) reject(e);
        else resolve(l!);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** This process's ZooKeeper counters now (SIGUSR2, answered on stdout); null if it has none. */
  async counters(timeoutMs = 5000): Promise<ZkCounts | null> {
    const from = this.lines.length;
    this.kill('SIGUSR2');
    const l = await this.waitLine((x) => x.ev === 'counters', timeoutMs, 'its counters', from);
    return (l.c as ZkCounts | null) ?? null;
  }

  /** SIGTERM and wait (SIGKILL after `graceMs`). */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill9(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }
}

/** Where the children's logs go: one directory per bench run. */
export function logDir(base: string): string {
  const dir = path.join(base, new Date().toISOString().replace(/[:.]/g, '-'));
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** RSS and its peak (VmHWM) of a process, in MiB; NaN when it is gone. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}
