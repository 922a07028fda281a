// Running the drover CLI the ways a person does beyond ProcessPool.run: with stdin piped in,
// under a real pseudo-terminal (util-linux `script`), or left running to be interrupted.
// Every child is killed by pid when the test is done with it, and guarded against our death.
import { spawn, type ChildProcess } from 'node:child_process';
import { DROVER_BIN } from './processes.js';
import { guardChild } from '../../shared/zk-server/orphan-guard.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
  kill(): void;
}

/** Starts `drover args...`; `input` is written to its stdin and closed (absent: stdin closed at once). */
export function startCli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, [DROVER_BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid !== undefined) guardChild(child.pid);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  child.stdin!.end(opts.input ?? '');
  const done = new Promise<CliResult>((resolve) => child.once('exit', (code) => resolve({ code, stdout: out, stderr: err })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Runs `drover args...` to the end (killed past `timeoutMs`). */
export async function runCli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const p = startCli(args, opts);
  const t = setTimeout(p.kill, opts.timeoutMs ?? 30_000);
  try {
    return await p.done;
  } finally {
    clearTimeout(t);
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `drover args...` with stdin, stdout and stderr on a pseudo-terminal (`script -qec`):
 * what a person at a terminal sees, escape sequences included, all in one stream.
 * `stdoutFile`: stdout goes to that file instead (`drover … > FILE` at a terminal).
 */
export async function runInTerminal(args: string[], opts: { timeoutMs?: number; stdoutFile?: string } = {}): Promise<{ code: number | null; output: string }> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const cmd = [process.execPath, DROVER_BIN, ...args].map(shellQuote).join(' ') + (opts.stdoutFile ? ` > ${shellQuote(opts.stdoutFile)}` : '');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '120', LINES: '40' } });
  if (child.pid !== undefined) guardChild(child.pid);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(t);
  return { code, output };
}
