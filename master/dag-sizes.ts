// Size estimates for the dependency releaser's record reads (dag-reads.ts): client/record-reads.ts's
// RecordSizes keeps the largest record ever seen, so after one 300 KB result every later
// multiRead would carry one record (a 10 000-child release: > 10 000 reads). Here the largest
// seen decays: each call of readRecords ends with it halved, never below what that call saw,
// so a run of small records packs 100 a request again after a few calls. One instance per kind
// of read (parents' records, children's records): their sizes differ.
import { packBySize } from '../shared/util/pack.js';

/** Target size of one multiRead reply (well under jute.maxbuffer, 1 MiB). */
const REPLY_BUDGET_BYTES = 512 * 1024;
const MAX_READS_PER_REQUEST = 100;
/** Least a record is expected to be. */
const FLOOR_BYTES = 4 * 1024;
/** Records in the first multiRead of an instance, before anything is known of their sizes. */
const PROBE = 4;

export class DecayingSizes {
  private largest = 0;
  private inCall = 0;
  /** A multiRead has been answered: the estimate rests on something. */
  private probed = false;
  /** Records read (tests and stats). */
  reads = 0;

  note(bytes: number): void {
    this.probed = true;
    this.reads++;
    this.inCall = Math.max(this.inCall, bytes);
    this.largest = Math.max(this.largest, bytes);
  }

  /** A readRecords call is over: what it did not see again counts for half. */
  decay(): void {
    this.largest = Math.max(this.inCall, Math.floor(this.largest / 2));
    this.inCall = 0;
  }

  /** What to read first, alone, before the estimate can be trusted (none when it can). */
  probe(ids: readonly string[]): string[] {
    return !this.probed && ids.length > PROBE ? ids.slice(0, PROBE) : [];
  }

  estimate(): number {
    return Math.max(FLOOR_BYTES, this.largest);
  }

  /** Splits ids into groups of one request each: ≤ 100, estimated ≤ the budget. */
  groups(ids: readonly string[]): string[][] {
    const e = this.estimate();
    return packBySize(ids, () => e, REPLY_BUDGET_BYTES, MAX_READS_PER_REQUEST);
  }
}
