// Real drover processes for fault tests: spawn the CLI, read its JSON log lines, kill -9 it,
// and stop everything a test started (by pid) afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.js';
import { guardChild } from '../../shared/zk-server/orphan-guard.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DROVER_BIN = join(ROOT, 'bin', 'drover.js');

if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  throw new Error('dist/ is missing: run `npm test` (it builds first) or `npx tsc -p tsconfig.json`');
}

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [k: string]: unknown;
}

export class DroverProcess {
  readonly lines: LogLine[] = [];
  /** Non-JSON output (errors from the CLI, say). */
  readonly text: string[] = [];
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!line.trim()) continue;
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.text.push(line);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    this.exited = new Promise((r) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : code);
        r(this.exitCode);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }
  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** First log line matching `pred` (already seen or yet to come). */
  waitForLine(pred: (l: LogLine) => boolean, timeoutMs = 15_000, message?: string): Promise<LogLine> {
    return waitFor(() => this.lines.find(pred), { timeoutMs, intervalMs: 20, message: message ?? `${this.name}: log line` });
  }

  hasLine(pred: (l: LogLine) => boolean): boolean {
    return this.lines.some(pred);
  }

  kill9(): void {
    if (this.running) process.kill(this.pid, 'SIGKILL');
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  async waitExit(timeoutMs = 15_000): Promise<number | null> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      t = setTimeout(() => rej(new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(t);
    }
  }
}

/** Spawns drover CLI processes and kills every one still running at cleanup. */
export class ProcessPool {
  private readonly procs: DroverProcess[] = [];

  spawn(name: string, args: string[], env: NodeJS.ProcessEnv = {}): DroverProcess {
    const child = spawn(process.execPath, [DROVER_BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, DROVER_LOG_LEVEL: process.env.DROVER_LOG_LEVEL ?? 'debug', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new DroverProcess(name, child);
    this.procs.push(p);
    // If this test process dies without its hooks (vitest ends fork workers without exit
    // handlers, or kills them), the child follows: killAll() is the normal path.
    if (child.pid !== undefined) guardChild(child.pid);
    return p;
  }

  /** Runs a command to completion: its exit code, stdout and stderr. */
  run(args: string[], timeoutMs = 20_000, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [DROVER_BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`drover ${args.join(' ')} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(t);
        resolvePromise({ code, stdout, stderr });
      });
    });
  }

  async killAll(): Promise<void> {
    for (const p of this.procs) p.kill9();
    await Promise.all(this.procs.map((p) => p.exited));
    this.procs.length = 0;
  }
}

/** Running, not a zombie (an orphan's new parent may not have reaped it yet). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
  return !/^\d+ \(.*\) Z/.test(stat);
}
