// Group commit of a worker's finishes. While one finish multi of this worker is in flight,
// the finishes that come meanwhile wait and then go together as one multi (finishBatch, up
// to BATCH_LIMITS). A lone finish goes at once: the only wait is the end of the current
// event-loop turn, so finishes of the same turn share a multi. A multi is all-or-nothing, so
// a refused batch (one item fenced or moved) says nothing of the others: the named item gets
// its own verdict and the others go back at the head of the line, to go again together in
// the next multi (K taken-back items in a batch cost K+1 multis, not one each). `unknown`
// (connection loss) is every item's verdict: each is verified by reading back, as a lone
// finish's is (commit.ts).
import type { Logger } from '../shared/log.js';
import { finishBatch, finishVerdictOf, prepareFinish, sendFinish, type FinishVerdict, type PreparedFinish } from '../shared/protocol/finish-batch.js';
import type { BatchLimits } from '../shared/protocol/client-transitions.js';
import type { Refusal, Tx } from '../shared/protocol/multi.js';
import { BATCH_LIMITS, type Outcome, type VersionedRecord } from '../shared/protocol/task-ops.js';

interface Waiting {
  prepared: PreparedFinish;
  resolve(v: FinishVerdict): void;
  reject(err: unknown): void;
}

/** What the batcher has done (for logs and tests). */
export interface BatcherStats {
  /** Group multis sent (a lone finish in one counts too). */
  multis: number;
  /** Finishes that went in them. */
  items: number;
  /** Batches refused for one item, whose others then went again together. */
  refused: number;
}

export class FinishBatcher {
  private readonly waiting: Waiting[] = [];
  private sending = false;
  private scheduled = false;
  readonly stats: BatcherStats = { multis: 0, items: 0, refused: 0 };

  constructor(
    private readonly tx: Tx,
    private readonly log: Logger,
    private readonly limits: BatchLimits = BATCH_LIMITS,
  ) {}

  /**
   * Commits one attempt's outcome in the next group multi; resolves with this attempt's own
   * verdict, as `finish` would give it alone. Throws as `finish` does: RequestTooLargeError
   * (this task cannot fit one request), or the session's error that was neither a commit nor
   * a refusal (closed, say).
   */
  async finish(cur: VersionedRecord, outcome: Outcome, now: number): Promise<FinishVerdict> {
    const prepared = prepareFinish(this.tx, cur, outcome, now);
    return new Promise<FinishVerdict>((resolve, reject) => {
      this.waiting.push({ prepared, resolve, reject });
      this.schedule();
    });
  }

  /** Finishes waiting for the multi in flight. */
  get queued(): number {
    return this.waiting.length;
  }

  private schedule(): void {
    if (this.sending || this.scheduled) return;
    this.scheduled = true;
    // End of this turn: what finishes in the same turn (a burst released together) goes together.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  /** One group multi at a time, until nobody waits. */
  private async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.waiting.length > 0) await this.sendOne();
    } finally {
      this.sending = false;
    }
  }

  private async sendOne(): Promise<void> {
    const sent = this.waiting.length;
    let bv: Awaited<ReturnType<typeof finishBatch>>;
    try {
      bv = await finishBatch(this.tx, this.waiting.map((w) => w.prepared), 0, this.limits);
    } catch (err) {
      // Neither applied nor refused (the session closed, say): each caller decides what next.
      for (const w of this.waiting.splice(0, sent)) w.reject(err);
      return;
    }
    // Those that came while it was in flight are behind these and stay waiting.
    const taken = this.waiting.splice(0, bv.taken);
    const { taken: _n, ...v } = bv;
    this.stats.multis += 1;
    this.stats.items += taken.length;
    this.log.debug({ count: taken.length, verdict: v.kind, waiting: this.waiting.length }, `finish batch: ${taken.length} in one multi (${v.kind})`);
    if (v.kind === 'committed' || v.kind === 'unknown' || taken.length === 1) {
      for (const w of taken) w.resolve(finishVerdictOf(w.prepared, asLone(v)));
      return;
    }
    const named = v.item;
    if (named === null || named < 0 || named >= taken.length) {
      // Not said which (not expected: a worker's batch has no batch-wide fence): each goes alone.
      this.log.warn({ count: taken.length, verdict: v.kind }, 'group commit refused without naming an item; sending each alone');
      for (const w of taken) sendFinish(this.tx, w.prepared).then(w.resolve, w.reject);
      return;
    }
    this.stats.refused += 1;
    this.log.debug({ count: taken.length, refused: taken[named]!.prepared.taskId, verdict: v.kind }, 'group commit refused for one item; the others go again together');
    // Its refusal is its own; the others are untouched by it and go first in the next multi.
    const [bad] = taken.splice(named, 1);
    bad!.resolve(finishVerdictOf(bad!.prepared, asLone(v)));
    this.waiting.unshift(...taken);
  }
}

/** A batch's verdict, told to one of its items as a lone finish's (item 0). */
function asLone(v: { kind: 'committed' } | Refusal): { kind: 'committed' } | Refusal {
  return v.kind === 'fenced' || v.kind === 'moved' ? { ...v, item: 0 } : v;
}
