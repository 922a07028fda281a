import { spawn } from 'node:child_process';

/**
 * A watchdog shell per child process (a ZooKeeper JVM, a drover process a test or the demo
 * started): the 'exit' hook does not run when this Node process is SIGKILLed or dies of an
 * unhandled signal (e.g. a test runner killing a worker), so a tiny `sh` polls once a second
 * and SIGKILLs the child once its parent is gone. It exits by itself when the child is gone.
 * `removeDir` (a temp dir we own) is deleted after the kill. Returns the watchdog's pid.
 */
export function guardChild(childPid: number, removeDir = ''): number | undefined {
  const script =
    'while kill -0 "$1" 2>/dev/null; do kill -0 "$2" 2>/dev/null || exit 0; sleep 1; done; ' +
    'kill -9 "$2" 2>/dev/null; sleep 0.2; [ -n "$3" ] && rm -rf -- "$3"';
  try {
    const args = ['-c', script, 'drover-watchdog', String(process.pid), String(childPid), removeDir];
    const w = spawn('sh', args, {
      stdio: 'ignore',
      detached: true, // own process group: a Ctrl-C to ours must not kill the watchdog first
    });
    w.on('error', () => {});
    w.unref();
    return w.pid;
  } catch {
    return undefined;
  }
}
