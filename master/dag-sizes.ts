// Size estimates for the dependency releaser's record reads (dag-reads.ts): client/record-reads.ts's
// RecordSizes keeps the largest record ever seen, so after one 300 KB result every later
// multiRead would carry one record (a 10 000-child release: > 10 000 reads). Here the largest
// seen decays with time (halved every HALF_LIFE_MS without a record as large; by time, not by
// call, so a run of small calls does not wear it down), and a reply raises it at once. Two
// things keep a decayed estimate from packing large records 100 a request: a call whose
// estimate fell below 3/4 of the largest ever seen reads a probe alone first (as many records
// as the budget holds at that largest), and every request is sized from the estimate when it
// is sent (the replies before it counted). A reply exceeds the budget only when its records
// are larger than any the probe, the replies before it and the ever-largest showed (records
// never seen large: the first requests of a call, as with RecordSizes). One instance per kind
// of read (parents' records, children's records): their sizes differ.

/** Target size of one multiRead reply (well under jute.maxbuffer, 1 MiB). */
const REPLY_BUDGET_BYTES = 512 * 1024;
const MAX_READS_PER_REQUEST = 100;
/** Least a record is expected to be. */
const FLOOR_BYTES = 4 * 1024;
/** Records in a probe: the first request of a call whose estimate cannot be trusted. */
const PROBE = 4;
/** The estimate halves in this long without a record as large (by time, not by call: many small calls do not wear it down). */
export const HALF_LIFE_MS = 60_000;

export class DecayingSizes {
  /** The largest record seen recently, and when. */
  private peak = 0;
  private peakAt = 0;
  /** The largest record ever seen. */
  private largestEver = 0;
  /** Records read (tests and stats). */
  reads = 0;

  constructor(private readonly now: () => number = Date.now) {}

  note(bytes: number): void {
    this.reads++;
    this.largestEver = Math.max(this.largestEver, bytes);
    if (bytes >= this.decayed()) {
      this.peak = bytes;
      this.peakAt = this.now();
    }
  }

  /**
   * The ids a call reads first, alone, when the estimate cannot be trusted: nothing seen yet
   * (PROBE records), or decayed below 3/4 of the largest ever seen (as many as the budget
   * holds at that largest, PROBE at most); none otherwise.
   */
  probe(ids: readonly string[]): string[] {
    if (this.reads > 0 && this.estimate() * 4 >= this.largestEver * 3) return [];
    const n = Math.max(1, Math.min(PROBE, Math.floor(REPLY_BUDGET_BYTES / Math.max(1, this.largestEver))));
    return ids.length <= n ? [] : ids.slice(0, n);
  }

  estimate(): number {
    return Math.max(FLOOR_BYTES, this.decayed());
  }

  /** Records the next request may hold: ≤ 100, estimated ≤ the budget, at least one (the estimate as it is now). */
  perRequest(): number {
    return Math.max(1, Math.min(MAX_READS_PER_REQUEST, Math.floor(REPLY_BUDGET_BYTES / this.estimate())));
  }

  private decayed(): number {
    return Math.floor(this.peak / 2 ** ((this.now() - this.peakAt) / HALF_LIFE_MS));
  }
}
