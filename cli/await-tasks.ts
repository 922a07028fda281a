// Waiting for tasks and printing their outcomes, for `submit --wait` and `wait ID...`: the
// same lines, the same exit codes, one deadline for the whole command, progress on stderr for
// many tasks, and on Ctrl-C (or a lost ZooKeeper) a line saying the tasks go on and how to
// re-attach to them.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DroverClient } from '../client/drover-client.js';
import { WaitTimeoutError } from '../client/wait-errors.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { ConnectionLossError, SessionExpiredError } from '../shared/zk/errors.js';
import { formatDuration, printJson } from './common.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import type { Progress } from './progress.js';
import { onInterrupt } from './signals.js';

/** Ids listed in a re-attach hint at most; more go to a file. */
const HINT_IDS = 20;

export interface AwaitOptions {
  json: boolean;
  /** --json prints one record (a single task, no --file) rather than an array. */
  single: boolean;
  timeoutMs?: number;
  progress: Progress;
}

export function outcomeCode(rec: TaskRecord): ExitCode {
  return rec.state === 'succeeded' ? EXIT.ok : rec.state === 'cancelled' ? EXIT.taskCancelled : EXIT.taskFailed;
}

export function outcomeLine(rec: TaskRecord): string {
  if (rec.state === 'succeeded') return `${rec.id} succeeded: ${JSON.stringify(rec.result)}`;
  return `${rec.id} ${rec.state} after ${rec.attempt} attempt(s): ${rec.error?.message ?? ''}`;
}

/** `drover wait ...` for these ids: listed when few, else written to a file read from stdin. */
export function reattachHint(ids: readonly string[]): string {
  if (ids.length <= HINT_IDS) return `drover wait ${ids.join(' ')}`;
  const file = join(tmpdir(), `drover-wait-${process.pid}-${Date.now()}.txt`);
  try {
    writeFileSync(file, ids.join('\n') + '\n');
    return `drover wait - < ${file} (${ids.length} ids)`;
  } catch {
    return `drover wait ${ids.slice(0, HINT_IDS).join(' ')} … (${ids.length} ids; the rest could not be written to ${file})`;
  }
}

const which = (ids: readonly string[]) => (ids.length === 1 ? `task ${ids[0]}` : `${ids.length} tasks`);

/** The tasks go on without us: one line saying so and how to come back (any add-on first). */
export function goesOnLine(what: string, pending: readonly string[]): string {
  const they = pending.length === 1 ? 'it stays submitted and goes on' : 'they stay submitted and go on';
  return `drover: ${what}; ${which(pending)} not finished yet: ${they}. Re-attach with: ${reattachHint(pending)}\n`;
}

/** Waits for every id, prints outcomes in the order of `ids`, and returns the exit code. */
export async function awaitTasks(client: DroverClient, ids: readonly string[], opts: AwaitOptions): Promise<ExitCode> {
  const outcomes: Array<TaskRecord | undefined> = new Array(ids.length);
  let printed = 0;
  const flush = () => {
    // Outcomes are printed in input order as soon as each one's turn has come.
    while (printed < ids.length && outcomes[printed]) {
      if (!opts.json) process.stdout.write(outcomeLine(outcomes[printed]!) + '\n');
      printed++;
    }
  };
  const pending = () => ids.filter((_, i) => !outcomes[i]);
  const stop = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const off = onInterrupt((signal) => {
    interrupted = signal;
    stop.abort(new Error(`interrupted by ${signal}`));
  });
  try {
    opts.progress.waiting();
    await client.waitMany(ids, {
      timeoutMs: opts.timeoutMs,
      signal: stop.signal,
      onEach: (rec, i) => {
        outcomes[i] = rec;
        opts.progress.finished(rec);
        flush();
      },
    });
  } catch (err) {
    opts.progress.stop();
    if (interrupted) {
      process.stderr.write(goesOnLine(`interrupted (${interrupted})`, pending()));
      return EXIT.interrupted;
    }
    if (err instanceof WaitTimeoutError) {
      const rest = pending();
      process.stderr.write(`drover: ${err.message} after ${formatDuration(opts.timeoutMs ?? 0)}${rest.length > 1 ? ` (${rest.length} tasks not finished)` : ''}; re-attach with: ${reattachHint(rest)}\n`);
      return EXIT.waitTimeout;
    }
    if (err instanceof ConnectionLossError || err instanceof SessionExpiredError) {
      const rest = pending();
      const what = rest.length === 1 ? `task ${rest[0]}, which stays submitted` : `${rest.length} tasks (${rest[0]}, …), which stay submitted`;
      process.stderr.write(`drover: ZooKeeper unavailable while waiting for ${what}: ${err.message}; re-attach with: ${reattachHint(rest)}\n`);
      return EXIT.unavailable;
    }
    throw err;
  } finally {
    off();
    opts.progress.stop();
  }
  const all = outcomes as TaskRecord[];
  if (opts.json) printJson(opts.single ? all[0] : all);
  let worst: ExitCode = EXIT.ok;
  for (const rec of all) {
    const code = outcomeCode(rec);
    if (code !== EXIT.ok) worst = code;
  }
  return worst;
}
