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
import { formatDuration } from './common.js';
import { EXIT, exitForOutcomes, type ExitCode } from './exit-codes.js';
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

export function outcomeLine(rec: TaskRecord): string {
  if (rec.state === 'succeeded') return `${rec.id} succeeded: ${JSON.stringify(rec.result)}`;
  return `${rec.id} ${rec.state} after ${rec.attempt} attempt(s): ${rec.error?.message ?? ''}`;
}

/** These ids for a person: listed when few, else written to a file (`- < FILE`, for `drover wait`). */
export function idList(ids: readonly string[]): { listed: string; file?: string } {
  if (ids.length <= HINT_IDS) return { listed: ids.join(' ') };
  const file = join(tmpdir(), `drover-wait-${process.pid}-${Date.now()}-${files++}.txt`);
  try {
    writeFileSync(file, ids.join('\n') + '\n');
    return { listed: `- < ${file} (${ids.length} ids)`, file };
  } catch {
    return { listed: `${ids.slice(0, HINT_IDS).join(' ')} … (${ids.length} ids; the rest could not be written to ${file})` };
  }
}
let files = 0;

/** `drover wait ...` for these ids: listed when few, else written to a file read from stdin. */
export function reattachHint(ids: readonly string[]): string {
  return `drover wait ${idList(ids).listed}`;
}

const which = (ids: readonly string[]) => (ids.length === 1 ? `task ${ids[0]}` : `${ids.length} tasks`);

/** The tasks go on without us: one line saying so and how to come back (any add-on first). */
export function goesOnLine(what: string, pending: readonly string[]): string {
  const they = pending.length === 1 ? 'it stays submitted and goes on' : 'they stay submitted and go on';
  return `drover: ${what}; ${which(pending)} not finished yet: ${they}. Re-attach with: ${reattachHint(pending)}\n`;
}

/** A JSON array on stdout one element a line (`[{…}`, then `,{…}`, then `]`): never one string of them all. */
export class JsonArrayLines {
  private opened = false;

  item(v: unknown): void {
    this.raw(JSON.stringify(v));
  }

  /** An element already in JSON. */
  raw(json: string): void {
    process.stdout.write((this.opened ? ',' : '[') + json + '\n');
    this.opened = true;
  }

  end(): void {
    process.stdout.write(this.opened ? ']\n' : '[]\n');
  }
}

/**
 * Outcomes as they become printable: in the order of `ids`, each as soon as those before it
 * are printed; held (not printed) while an earlier one is unfinished. With --json a single
 * task is one record, many are a JSON array streamed one element a line (JsonArrayLines).
 * `rest()` prints what is known but held (a Ctrl-C, a timeout or a lost ZooKeeper: what
 * finished is printed, in the order of `ids`, the unfinished ones left out) and closes the array.
 */
class OutcomePrinter {
  /**
   * Outcomes known but not printed yet (an earlier one is unfinished), by index in `ids`, as
   * the text they print as (a line, or the record's JSON): smaller than the record's objects.
   */
  private readonly held = new Map<number, string>();
  /** 1 byte an id: which have an outcome. */
  private readonly known: Uint8Array;
  private next = 0;
  private readonly array = new JsonArrayLines();
  /** The states the outcomes ended in (for exitForOutcomes). */
  readonly states = new Set<string>();

  constructor(
    private readonly ids: readonly string[],
    private readonly opts: Pick<AwaitOptions, 'json' | 'single'>,
  ) {
    this.known = new Uint8Array(ids.length);
  }

  add(rec: TaskRecord, i: number): void {
    if (this.known[i]) return;
    this.known[i] = 1;
    this.held.set(i, this.opts.json ? JSON.stringify(rec) : outcomeLine(rec));
    this.states.add(rec.state);
    while (this.next < this.ids.length && this.known[this.next]) this.emit(this.next++);
  }

  /** The ids with no outcome yet. */
  pending(): string[] {
    return this.ids.filter((_, i) => !this.known[i]);
  }

  /** Prints every known outcome not printed yet, and ends the --json output. */
  rest(): void {
    for (let i = this.next; i < this.ids.length; i++) if (this.known[i]) this.emit(i);
    this.next = this.ids.length;
    if (this.opts.json && !this.opts.single) this.array.end();
  }

  private emit(i: number): void {
    const text = this.held.get(i);
    if (text === undefined) return;
    this.held.delete(i);
    if (this.opts.json && !this.opts.single) this.array.raw(text);
    else process.stdout.write(text + '\n');
  }
}

/** Waits for every id, prints outcomes in the order of `ids`, and returns the exit code. */
export async function awaitTasks(client: DroverClient, ids: readonly string[], opts: AwaitOptions): Promise<ExitCode> {
  const out = new OutcomePrinter(ids, opts);
  const stop = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const off = onInterrupt((signal) => {
    interrupted = signal;
    stop.abort(new Error(`interrupted by ${signal}`));
  });
  try {
    opts.progress.waiting();
    // No record kept by the wait: the printer holds only those that came before their turn.
    await client.waitEach(ids, {
      timeoutMs: opts.timeoutMs,
      signal: stop.signal,
      onEach: (rec, i) => {
        out.add(rec, i);
        opts.progress.finished(rec);
      },
    });
  } catch (err) {
    opts.progress.stop();
    const known = err instanceof WaitTimeoutError || err instanceof ConnectionLossError || err instanceof SessionExpiredError;
    // What did finish is printed (and a --json array closed) before any error line.
    out.rest();
    if (!interrupted && !known) throw err;
    // The hint names only the ids that did not finish.
    const rest = out.pending();
    if (interrupted) {
      process.stderr.write(goesOnLine(`interrupted (${interrupted})`, rest));
      return EXIT.interrupted;
    }
    if (err instanceof WaitTimeoutError) {
      process.stderr.write(`drover: ${err.message} after ${formatDuration(opts.timeoutMs ?? 0)}${rest.length > 1 ? ` (${rest.length} tasks not finished)` : ''}; re-attach with: ${reattachHint(rest)}\n`);
      return EXIT.waitTimeout;
    }
    const what = rest.length === 1 ? `task ${rest[0]}, which stays submitted` : `${rest.length} tasks (${rest[0]}, …), which stay submitted`;
    process.stderr.write(`drover: ZooKeeper unavailable while waiting for ${what}: ${(err as Error).message}; re-attach with: ${reattachHint(rest)}\n`);
    return EXIT.unavailable;
  } finally {
    off();
    opts.progress.stop();
  }
  out.rest();
  return exitForOutcomes(out.states);
}
