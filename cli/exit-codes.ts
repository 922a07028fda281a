/** What a drover command's exit code means. Only bin/drover.js calls process.exit. */
export const EXIT = {
  ok: 0,
  /** Bad input, or an operation refused. */
  error: 1,
  /** Unknown command or bad options. */
  usage: 2,
  /** ZooKeeper unreachable, without quorum, or not answering in time. */
  unavailable: 3,
  /** No such task. */
  notFound: 4,
  /** submit --wait: the task ended failed. */
  taskFailed: 5,
  /** submit --wait: the task ended cancelled. */
  taskCancelled: 6,
  /** submit --wait --wait-timeout: still not finished. */
  waitTimeout: 7,
  /** A second SIGINT/SIGTERM: exited at once, without waiting for the graceful stop. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The exit code of a wait on tasks that ended in these states (the one rule for submit --wait,
 * wait and watch): any failed → 5, else any cancelled → 6, else 0. Order does not matter.
 */
export function exitForOutcomes(states: Iterable<string>): ExitCode {
  let cancelled = false;
  for (const s of states) {
    if (s === 'failed') return EXIT.taskFailed;
    if (s === 'cancelled') cancelled = true;
  }
  return cancelled ? EXIT.taskCancelled : EXIT.ok;
}
