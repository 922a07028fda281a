// The dead letter's part of the live updates (live.ts): its seed at each feed opening, and
// its `dead-letter` event, sent whole and throttled to once a DEAD_LETTER_EVERY_MS.
import { listTasks } from '../../client/list.js';
import type { Paths } from '../../shared/protocol/paths.js';
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { DEAD_LETTER_MAX, type DeadLetter } from './dead-letter.js';

/**
 * Done records the dead-letter seed reads at most (newest first): each feed opening (each
 * reload of a lone page) pays it, so it stays ~1 MB of summaries, not list.ts's RECORD_SCAN.
 */
export const DEAD_LETTER_SEED_SCAN = 2000;
/** The dead letter is sent whole (≤ DEAD_LETTER_MAX entries, ~100 KB): at most once a this. */
const DEAD_LETTER_EVERY_MS = 1000;

export interface DeadLetterBody {
  tasks: unknown[];
  max: number;
  seeded: boolean;
  complete: boolean;
  scan: number;
}

export class DeadLetterStream {
  private due = false;
  private sentAt = 0;
  private timer?: NodeJS.Timeout;
  /**
   * How the dead letter was seeded at this feed's opening: 'complete' (every done entry's
   * record read), 'partial' (the newest DEAD_LETTER_SEED_SCAN), 'none' (not yet, skipped past
   * SEED_MAX_NAMES, or failed: it holds the failures since the feed opened).
   */
  private seedState: 'complete' | 'partial' | 'none' = 'none';

  constructor(private readonly deadLetter: DeadLetter) {}

  /** A feed opened: what it held was kept by a feed now gone (tasks retried meanwhile): from the seed again. */
  reset(): void {
    this.deadLetter.clear();
    this.seedState = 'none';
  }

  /** The next flush sends the dead letter (e.g. the seed was skipped: the pages say so). */
  markDue(): void {
    this.due = true;
  }

  /** A record from the feed: the dead letter is sent again when it changed. */
  take(r: TaskRecord): void {
    if (this.deadLetter.take(r)) this.due = true;
  }

  /**
   * The dead letter: the newest failed tasks among the newest DEAD_LETTER_SEED_SCAN finished.
   * False (nothing taken) when the feed it was read for is no longer `current`.
   */
  async seed(session: ZkSession, paths: Paths, current: () => boolean): Promise<boolean> {
    const failed = await listTasks(session, paths, { deadLetter: true, limit: DEAD_LETTER_MAX, summary: true, recordScan: DEAD_LETTER_SEED_SCAN });
    if (!current()) return false;
    for (const r of failed.tasks) this.deadLetter.take(r);
    this.seedState = failed.exact ? 'complete' : 'partial';
    this.due = true;
    return true;
  }

  /** From the hub's flush: sends it if due, or asks `again` for a flush once the throttle allows. */
  flush(broadcast: (body: DeadLetterBody) => void, again: () => void): void {
    if (!this.due) return;
    // The whole list each time (~100 KB at DEAD_LETTER_MAX): at most once a DEAD_LETTER_EVERY_MS.
    const wait = this.sentAt + DEAD_LETTER_EVERY_MS - Date.now();
    if (wait > 0) {
      clearTimeout(this.timer);
      this.timer = setTimeout(again, wait);
      this.timer.unref();
    } else {
      this.due = false;
      this.sentAt = Date.now();
      broadcast(this.body());
    }
  }

  /**
   * The whole (bounded) dead letter: the page replaces its panel with it. `seeded` false: it
   * holds only the failures since the feed opened; `complete` false: the seed read only the
   * newest DEAD_LETTER_SEED_SCAN finished tasks (older failures: drover list --dead-letter).
   */
  body(limit = DEAD_LETTER_MAX): DeadLetterBody {
    const seed = this.seedState;
    return { tasks: this.deadLetter.list(limit), max: DEAD_LETTER_MAX, seeded: seed !== 'none', complete: seed === 'complete', scan: DEAD_LETTER_SEED_SCAN };
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
