import fs from 'node:fs';

/**
 * Resolves once every thread of `pid` is stopped (SIGSTOP has taken effect), read from
 * /proc/<pid>/task/<tid>/stat. kill(SIGSTOP) returns before the stop is complete: the kernel
 * wakes one thread to start the group stop, and on a loaded machine another thread (a
 * ZooKeeper selector) can still answer a request meanwhile. Without /proc (not Linux) it
 * resolves at once.
 */
export async function waitProcessStopped(pid: number, timeoutMs = 5000): Promise<void> {
  const taskDir = `/proc/${pid}/task`;
  if (!fs.existsSync('/proc/self/task')) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let tids: string[];
    try {
      tids = fs.readdirSync(taskDir);
    } catch {
      throw new Error(`process ${pid} is gone`);
    }
    const running = tids.filter((tid) => {
      try {
        // The state follows the command name in parentheses, which may itself hold spaces.
        const stat = fs.readFileSync(`${taskDir}/${tid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        return state !== 'T' && state !== 't';
      } catch {
        return false; // the thread exited
      }
    });
    if (running.length === 0) return;
    if (Date.now() >= deadline) throw new Error(`process ${pid}: ${running.length} thread(s) still running ${timeoutMs} ms after SIGSTOP`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
