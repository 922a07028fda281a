// Stalls: the gaps between consecutive completions while work was pending, and the fault
// (or a fault's aftermath) behind each one.
import type { TaskRecord } from '../../shared/protocol/task-record.js';
import type { FaultKind, Timeline } from './timeline.js';

export interface Stall {
  ms: number;
  from: number;
  to: number;
  cause: string;
  kind: FaultKind | null;
}

/**
 * Gaps between consecutive completions while work was pending, with the fault behind each.
 * A task is pending from the first try to submit it (a submission blocked by an outage is
 * work waiting too) until its outcome is committed.
 */
export function stalls(records: Array<Pick<TaskRecord, 'createdAt' | 'finishedAt' | 'updatedAt'>>, timeline: Pick<Timeline, 'faults' | 'rel'>, firstTriedAt?: (i: number) => number | undefined): Stall[] {
  const created = records.map((r, i) => Math.min(r.createdAt, firstTriedAt?.(i) ?? r.createdAt)).sort((a, b) => a - b);
  const finished = records.map((r) => r.finishedAt ?? r.updatedAt).sort((a, b) => a - b);
  if (created.length === 0) return [];
  const out: Stall[] = [];
  let ci = 0; // created[0..ci) are <= cursor
  let prev = created[0]!;
  let finishedBefore = 0;
  for (const c of finished) {
    while (ci < created.length && created[ci]! <= prev) ci++;
    const pending = ci - finishedBefore;
    // Nothing pending at `prev`: the stall starts when the next task was submitted.
    const from = pending > 0 ? prev : Math.min(c, created[ci] ?? c);
    if (c > from) out.push({ ms: c - from, from, to: c, ...cause(from, c, timeline) });
    prev = c;
    finishedBefore += 1;
  }
  return out;
}

function cause(from: number, to: number, timeline: Pick<Timeline, 'faults' | 'rel'>): { cause: string; kind: FaultKind | null } {
  let best: { kind: FaultKind; overlap: number; start: number; detail: string } | null = null;
  for (const f of timeline.faults) {
    const overlap = Math.min(to, f.end) - Math.max(from, f.start);
    if (overlap > 0 && (!best || overlap > best.overlap)) best = { kind: f.kind, overlap, start: f.start, detail: f.detail };
  }
  if (best) return { kind: best.kind, cause: `${best.kind} at ${timeline.rel(best.start)}: ${best.detail}` };
  // Just after a fault: its aftermath (sessions expiring, a new leader rebuilding).
  const before = timeline.faults.filter((f) => f.end <= from && from - f.end < 10_000).sort((a, b) => b.end - a.end)[0];
  if (before) return { kind: before.kind, cause: `after ${before.kind} at ${timeline.rel(before.start)}: ${before.detail}` };
  return { kind: null, cause: 'no fault active' };
}
