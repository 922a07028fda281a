// The launcher's child JVMs: spawning one with its output appended to a log file, knowing
// when (and why) it exited, and the registry of those still running, killed if this process
// exits without stopping them (orphan-guard.ts covers this process dying of a SIGKILL).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** What the exit hook kills: a server this process started and did not see exit. */
export interface KilledAtExit {
  killSync(): void;
}

const live = new Set<KilledAtExit>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.killSync();
  });
}

/** `s` is killed if this process exits while it runs. */
export function keepLive(s: KilledAtExit): void {
  live.add(s);
  installExitHook();
}

/** `s` has exited (or was stopped): nothing to kill at exit. */
export function forgetLive(s: KilledAtExit): void {
  live.delete(s);
}

export interface SpawnedJvm {
  child: ChildProcess;
  /** Resolves once the process has exited, or could not be run. */
  exited: Promise<void>;
  /** Why it could not be run (java missing, say). */
  spawnError(): Error | undefined;
  /** How it exited (`code N`, `signal S`), once it has. */
  exitInfo(): string | undefined;
}

/**
 * Runs `java args` in `cwd`, its stdout and stderr appended to `logFile`: a file, not a pipe,
 * since a pipe nobody reads would block the JVM once full.
 */
export function spawnJvm(java: string, args: string[], cwd: string, logFile: string): SpawnedJvm {
  const fd = fs.openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(java, args, { cwd, stdio: ['ignore', fd, fd], detached: false });
  } finally {
    fs.closeSync(fd);
  }
  let spawnError: Error | undefined;
  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (e) => {
      spawnError = e;
      resolve();
    });
    child.once('exit', (code, signal) => {
      exitInfo = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
  });
  return { child, exited, spawnError: () => spawnError, exitInfo: () => exitInfo };
}

/** The last `lines` lines of `file` ('(no log)' when it cannot be read). */
export function tailFile(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}
