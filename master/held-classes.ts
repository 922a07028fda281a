// The class (type, labels) and start of held assignments the leader did not make itself (a
// previous leader's, seen at takeover or through a resync): limits count held tasks per scope
// (master/limits.ts), and one of unknown class counts in every scope until it is learnt.
// Their records are read once each, packed by size; one not learnt (the read refused, the
// record malformed or of another attempt) is read again 1 s later, doubling to a minute, and
// never given up on: it would otherwise take room from every scope for as long as it is held.
import { SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';
import { readRecords } from './held-reads.js';
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
    let records;
    try {
      records = await readRecords(this.ctx.session, this.ctx.paths, todo);
    } catch (err) {
      if (err instanceof SessionExpiredError || err instanceof SessionClosedError) throw err;
      // One record refused (NO_AUTH, say) fails the whole read: the round goes on, these count everywhere.
      todo.forEach(later);
      this.ctx.log.warn({ err: (err as Error).message, assignments: todo.length }, "cannot read held tasks' records (limits count them in every scope); retrying");
      return;
    }
    todo.forEach((h, i) => {
      learnClass(h, records[i]!);
      if (h.type === undefined) later(h);
    });
  }
}
