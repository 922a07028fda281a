// Progress of long CLI work (submit --file --wait, wait of many ids), always on stderr so that
// stdout (--json included) never holds any of it: a cli-progress bar when stderr is a
// terminal and stdout is not (outcome lines on the same terminal would glue to the bar, be
// cut by its wrap-off, and be overwritten when it restores the cursor), plain lines
// otherwise — one each time another tenth is done, and one every PLAIN_EVERY_MS while
// nothing else was printed (so a log shows the command is alive).
import { createRequire } from 'node:module';
import type cliProgress from 'cli-progress';
import type { TaskRecord } from '../shared/protocol/task-record.js';

// Required (it is CommonJS) when a bar is made: every submit and wait imports this module, few show a bar.
const require = createRequire(import.meta.url);

export const PLAIN_EVERY_MS = 5000;

export interface ProgressOptions {
  /** Tasks in all. */
  total: number;
  /** Where it goes (stderr); a terminal gets a bar. */
  stream?: NodeJS.WriteStream;
  /** Force a mode (tests); default: bar when `stream.isTTY` and stdout is not a terminal (`barAllowed`). */
  tty?: boolean;
  /** ms between plain lines while nothing else was printed. */
  everyMs?: number;
}

type Phase = 'submitted' | 'finished';

export interface Progress {
  /** `n` of `total` tasks are submitted so far. */
  submitted(n: number): void;
  /** Waiting begins (finished 0/N; after the interrupt handlers are on). */
  waiting(): void;
  /** One more task reached a terminal state. */
  finished(rec: Pick<TaskRecord, 'state'>): void;
  /** Ends the bar (or prints the last plain line); idempotent. */
  stop(): void;
}

/** A progress that shows nothing (one task, or --no-progress). */
export const NO_PROGRESS: Progress = { submitted: () => undefined, waiting: () => undefined, finished: () => undefined, stop: () => undefined };

/** Fewer tasks than this show no progress: their outcome lines come soon enough. */
export const PROGRESS_MIN_TASKS = 10;

/** The progress a command shows for `total` tasks: none when few, or when not wanted (--no-progress). */
export function progressFor(total: number, wanted: boolean): Progress {
  return wanted && total >= PROGRESS_MIN_TASKS ? createProgress({ total }) : NO_PROGRESS;
}

/** A bar on `stream` only when it is a terminal that stdout's lines do not share. */
export function barAllowed(stream: NodeJS.WriteStream, stdout: { isTTY?: boolean } = process.stdout): boolean {
  return Boolean(stream.isTTY) && !stdout.isTTY;
}

export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? barAllowed(stream);
  return tty ? new BarProgress(opts.total, stream) : new PlainProgress(opts.total, stream, opts.everyMs ?? PLAIN_EVERY_MS);
}

/** Counts of finished tasks by how they ended, and the text both modes print. */
class Counts {
  done = 0;
  succeeded = 0;
  failed = 0;
  cancelled = 0;
  add(state: string): void {
    this.done++;
    if (state === 'succeeded') this.succeeded++;
    else if (state === 'cancelled') this.cancelled++;
    else this.failed++;
  }
  text(): string {
    return `${this.succeeded} succeeded, ${this.failed} failed${this.cancelled ? `, ${this.cancelled} cancelled` : ''}`;
  }
}

/** What both modes share: the counts, and the three steps mapped onto one `show(phase, value)`. */
abstract class CountingProgress implements Progress {
  protected readonly counts = new Counts();
  protected stopped = false;

  submitted(n: number): void {
    this.show('submitted', n);
  }

  waiting(): void {
    this.show('finished', this.counts.done);
  }

  finished(rec: Pick<TaskRecord, 'state'>): void {
    this.counts.add(rec.state);
    this.show('finished', this.counts.done);
  }

  protected abstract show(phase: Phase, value: number): void;
  abstract stop(): void;
}

class PlainProgress extends CountingProgress {
  private phase: Phase = 'submitted';
  private value = 0;
  private lastTenth = -1;
  private lastLine = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream,
    everyMs: number,
  ) {
    super();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastLine >= everyMs) this.print();
    }, Math.max(50, Math.floor(everyMs / 5)));
    this.timer.unref();
  }

  protected show(phase: Phase, value: number): void {
    if (this.stopped) return;
    if (phase !== this.phase) {
      this.phase = phase;
      this.lastTenth = -1;
    }
    this.value = value;
    const tenth = Math.floor((value * 10) / Math.max(1, this.total));
    if (tenth > this.lastTenth) {
      this.lastTenth = tenth;
      this.print();
    }
  }

  private print(): void {
    const tail = this.phase === 'finished' ? ` (${this.counts.text()})` : '';
    this.stream.write(`drover: ${this.phase} ${this.value}/${this.total}${tail}\n`);
    this.lastLine = Date.now();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
  }
}

class BarProgress extends CountingProgress {
  private readonly bar: cliProgress.SingleBar;
  private phase: Phase | undefined;

  constructor(
    private readonly total: number,
    stream: NodeJS.WriteStream,
  ) {
    super();
    const bars = require('cli-progress') as typeof cliProgress;
    this.bar = new bars.SingleBar(
      {
        stream,
        format: '{phase} [{bar}] {value}/{total} {counts}',
        hideCursor: true,
        fps: 10,
        barsize: 30,
      },
      bars.Presets.shades_classic,
    );
  }

  protected show(phase: Phase, value: number): void {
    if (this.stopped) return;
    const payload = { phase: phase.padEnd(9), counts: phase === 'finished' ? this.counts.text() : '' };
    if (this.phase === undefined) this.bar.start(this.total, value, payload);
    else this.bar.update(value, payload);
    this.phase = phase;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.phase !== undefined) this.bar.stop();
  }
}
