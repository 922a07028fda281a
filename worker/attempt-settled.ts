// How the attempt runner tells an attempt's settled end (committed, fenced or abandoned; a
// `left` one is not over and stays with the runner): its one line, its metrics, its events.
import type { Attempt } from './attempt.js';
import { attemptEnded } from './attempt-report.js';
import type { CommitResult } from './commit.js';
import type { ExecuteResult } from './executor.js';
import type { RunnerOptions } from './runner-types.js';

/** `sent`: a commit was sent (a withdrawn attempt's is not: its fence is known gone). */
export function reportSettled(
  opts: Pick<RunnerOptions, 'report' | 'metrics'>,
  a: Attempt,
  res: ExecuteResult,
  r: Exclude<CommitResult, { kind: 'left' }>,
  sent: boolean,
): void {
  // Its one log line and its metrics first: no listener of the events below can hide them.
  const end = attemptEnded(a, res, r, opts.metrics);
  if (r.kind === 'committed') {
    opts.report.committed({ taskId: a.taskId, attempt: a.attempt, state: r.state });
  } else if (r.kind === 'fenced') {
    if (sent) opts.metrics?.fencedCommit();
    opts.report.fenced({ taskId: a.taskId, attempt: a.attempt, reason: r.reason });
  }
  opts.report.ended(end);
}
