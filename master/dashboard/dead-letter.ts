// The dashboard's dead letter: the failed tasks, newest first, each with its error and
// attempts and the `drover retry` command that queues it again (the page shows the command;
// it never writes). Kept in memory from the task feed's records (live.ts: open only while a
// page is connected), seeded once per feed opening from a listing; bounded to the
// DEAD_LETTER_MAX newest. A task leaves it when a record of it in another state comes (a
// retry); one purged by retention stays until the feed opens again (no event says so).
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import { attemptsUsed } from '../../shared/protocol/task-state.js';
import { firstLine } from '../../shared/util/first-line.js';
import { compareVersions, versionOf, type RecordVersion } from './record-order.js';

export const DEAD_LETTER_MAX = 200;
/** Ids whose last record time is remembered (so a seed read before a retry does not bring it back). */
const SEEN_MAX = 10_000;
const MESSAGE_CHARS = 300;

export interface DeadLetterEntry {
  id: string;
  type: string;
  finishedAt: number;
  kind: string;
  /** The error message's first line, cut. */
  message: string;
  attemptsUsed: number;
  maxAttempts: number;
  lost: number;
  retries: number;
  /** What the page shows to queue it again. */
  retry: string;
}

export function deadLetterEntry(r: TaskRecord): DeadLetterEntry {
  return {
    id: r.id,
    type: r.type,
    finishedAt: r.finishedAt ?? r.updatedAt,
    kind: r.error?.kind ?? 'failed',
    message: firstLine(String(r.error?.message ?? ''), MESSAGE_CHARS),
    attemptsUsed: attemptsUsed(r),
    maxAttempts: r.maxAttempts,
    lost: r.lost ?? 0,
    retries: r.retries ?? 0,
    retry: `drover retry ${r.id}`,
  };
}

export class DeadLetter {
  private readonly failed = new Map<string, DeadLetterEntry>();
  /** id → version of the newest record taken (insertion order: oldest first, for the bound). */
  private readonly seen = new Map<string, RecordVersion>();

  /** Takes a record (from the feed or a seed); true when the dead letter changed. */
  take(r: TaskRecord): boolean {
    const last = this.seen.get(r.id);
    if (last !== undefined && compareVersions(last, r) > 0) return false; // older than what we had
    this.seen.delete(r.id);
    this.seen.set(r.id, versionOf(r));
    if (this.seen.size > SEEN_MAX) this.seen.delete(this.seen.keys().next().value!);
    if (r.state !== 'failed') return this.failed.delete(r.id);
    this.failed.set(r.id, deadLetterEntry(r));
    if (this.failed.size > DEAD_LETTER_MAX) this.failed.delete(this.oldest()!);
    return this.failed.has(r.id);
  }

  /** Newest failure first. */
  list(limit = DEAD_LETTER_MAX): DeadLetterEntry[] {
    return [...this.failed.values()].sort((a, b) => b.finishedAt - a.finishedAt || (a.id < b.id ? -1 : 1)).slice(0, limit);
  }

  clear(): void {
    this.failed.clear();
    this.seen.clear();
  }

  get size(): number {
    return this.failed.size;
  }

  private oldest(): string | undefined {
    let out: DeadLetterEntry | undefined;
    for (const e of this.failed.values()) if (!out || e.finishedAt < out.finishedAt) out = e;
    return out?.id;
  }
}
