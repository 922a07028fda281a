// The class (type, labels) and start of held assignments the leader did not make itself (a
// previous leader's, seen at takeover or through a resync): limits count held tasks per scope
// (master/limits.ts), and one of unknown class counts in every scope until it is learnt.
// Their records are read once each, packed by size; one not learnt (the read refused, the
// record malformed or of another attempt) is read again 1 s later, doubling to a minute, and
// never given up on: it would otherwise take room from every scope for as long as it is held.
// A refused read defers only its own entry (held-reads.ts readRecordsEach), not its batch-mates.
import { readRecordsEach, type readRecords } from './held-reads.js';
import type { Held, LeaderContext } from './leader-context.js';

/** What a held assignment's record says of its class and start. */
export function learnClass(h: Held, r: Awaited<ReturnType<typeof readRecords>>[number]): void {
  if (r.kind !== 'ok' || r.record.attempt !== h.attempt) return;
  h.type = r.record.type;
  h.labels = r.record.labels;
  if (r.record.assignedAt !== undefined) h.assignedAt = r.record.assignedAt;
}

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 60_000;

export class ClassLearner {
  /** Held entries whose class could not be learnt: when to read them again (and how many tries so far). */
  private readonly retry = new WeakMap<Held, { n: number; at: number }>();
  /** Records read (tests). */
  reads = 0;

  constructor(private readonly ctx: LeaderContext) {}

  /** Reads the records of the held entries without a class that are due (O(held) to find them). */
  async learn(held: Iterable<Held>, now = Date.now()): Promise<void> {
    const todo: Held[] = [];
    for (const h of held) if (h.type === undefined && (this.retry.get(h)?.at ?? 0) <= now) todo.push(h);
    if (todo.length === 0) return;
    const later = (h: Held) => {
      const n = (this.retry.get(h)?.n ?? -1) + 1;
      this.retry.set(h, { n, at: now + Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** n) });
    };
    this.reads += todo.length;
    const records = await readRecordsEach(this.ctx.session, this.ctx.paths, todo);
    let refused = 0;
    let err: Error | undefined;
    todo.forEach((h, i) => {
      const r = records[i]!;
      if (r.kind === 'failed') {
        refused++;
        err = r.error;
      } else learnClass(h, r);
      if (h.type === undefined) later(h);
    });
    // The round goes on; these count in every scope until read.
    if (err) this.ctx.log.warn({ err: err.message, assignments: refused }, "cannot read held tasks' records (limits count them in every scope); retrying");
  }
}
