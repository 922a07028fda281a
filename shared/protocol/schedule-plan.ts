// Which occurrences of a schedule the leader handles now (pure). Occurrences in
// (cursor, since − MISFIRE_GRACE_MS] were missed (no leader could act in time); those in
// (since − grace, now] are due and fired as usual. `since` is when this leader began to serve
// (its full read; the scheduler bounds how far back): one reached late because the leader was
// busy (hundreds due at once, a long catch-up of another) is late, not missed:
//
//   skip      no missed one is submitted: they are counted in `skipped` and the cursor moves
//             to the last of them
//   catch-up  the most recent `max` missed ones are submitted, oldest first (the freshest runs
//             are the ones worth having; older ones are counted in `skipped`)
//
// Never an enumeration that grows with the time missed: at most ENUM_CAP occurrences are
// walked from the cursor; past that the rest are counted from the mean interval of those walked
// (an estimate, exact for a fixed-interval cron), and the last ones are found backwards from now.
import type { Cron } from 'croner';
import { cronOf, nextOccurrence, type Schedule } from './schedule.js';

/** How late an occurrence may be fired and still count as on time (a timer's lateness, a busy loop). */
export const MISFIRE_GRACE_MS = 1000;
/**
 * Occurrences walked at most to count the missed ones (croner: ~5 ms, ~17 ms with a zone). The
 * last `keep` are then found backwards (previousRuns): up to MAX_CATCH_UP_MAX (1000) with a zone
 * is ~100 ms, once per catch-up of > ENUM_CAP missed (a takeover), before as many multis.
 */
export const ENUM_CAP = 100;
/** Due occurrences at most fired in one pass (a 6-field cron every second fires 1–2 within the grace). */
const MAX_DUE = 100;

export interface Plan {
  /** Missed occurrences not submitted (counted in `skipped`). */
  skipped: number;
  /** The cursor after the skip, when nothing is submitted (skip policy): the last missed occurrence. */
  skipCursor: number | null;
  /** Occurrences to submit now, oldest first: missed ones caught up, then due ones. */
  fire: number[];
  /** The first occurrence after now (null: none ever again). */
  next: number | null;
}

/** Occurrences in (from, to]: their count (estimated past ENUM_CAP) and the last `keep` of them. */
export function occurrencesBetween(c: Cron, from: number, to: number, keep: number): { count: number; last: number[] } {
  const walked: number[] = [];
  let t = nextOccurrence(c, from);
  while (t !== null && t <= to && walked.length < ENUM_CAP) {
    walked.push(t);
    t = nextOccurrence(c, t);
  }
  if (t === null || t > to) return { count: walked.length, last: walked.slice(Math.max(0, walked.length - keep)) };
  // Cap reached: count those past the walked ones from the mean interval of the walked ones
  // (exact for a fixed interval; `from` itself may sit on an occurrence, the cursor after a
  // submit, so it is not one of them), then find the last ones backwards from `to`, never at or
  // before `from` (a catch-up's max may exceed the count: nothing before the cursor is missed).
  const final = c.previousRuns(1, new Date(to + 1))[0]?.getTime();
  if (final === undefined || final <= walked.at(-1)!) return { count: walked.length, last: walked.slice(Math.max(0, walked.length - keep)) };
  const mean = (walked.at(-1)! - walked[0]!) / Math.max(1, walked.length - 1);
  const count = walked.length + Math.max(1, Math.round((final - walked.at(-1)!) / Math.max(1, mean)));
  const n = Math.min(keep, count);
  if (n <= 1) return { count, last: n === 1 ? [final] : [] };
  const last = c.previousRuns(n, new Date(to + 1)).map((d) => d.getTime()).filter((x) => x > from).reverse();
  return { count: Math.max(count, last.length), last };
}

export function planOccurrences(s: Schedule, now: number, c: Cron = cronOf(s.cron, s.tz), since = now): Plan {
  if (s.paused) return { skipped: 0, skipCursor: null, fire: [], next: null };
  const missedEnd = Math.min(now, since) - MISFIRE_GRACE_MS;
  let cursor = s.cursor;
  let skipped = 0;
  let skipCursor: number | null = null;
  const fire: number[] = [];
  if (cursor < missedEnd) {
    const keep = s.misfire.policy === 'catch-up' ? s.misfire.max : 1;
    const missed = occurrencesBetween(c, cursor, missedEnd, keep);
    if (missed.count > 0) {
      if (s.misfire.policy === 'catch-up') {
        fire.push(...missed.last);
        skipped = missed.count - missed.last.length;
      } else {
        skipped = missed.count;
        skipCursor = missed.last.at(-1)!;
      }
      cursor = missed.last.at(-1)!;
    }
  }
  let t = nextOccurrence(c, Math.max(cursor, missedEnd));
  for (let due = 0; t !== null && t <= now && due < MAX_DUE; due++) {
    fire.push(t);
    t = nextOccurrence(c, t);
  }
  // A guard: nothing at or before the cursor is ever fired (the cursor would move backwards,
  // an occurrence already handled or purged would run again).
  const after = fire.filter((x) => x > s.cursor);
  if (skipCursor !== null && skipCursor <= s.cursor) skipCursor = null;
  return { skipped, skipCursor: after.length > 0 ? null : skipCursor, fire: after, next: t };
}

/** The cursor and skipped count of a schedule resumed at `now`: the occurrences of the pause are skipped. */
export function resumedAt(s: Schedule, now: number): Pick<Schedule, 'cursor' | 'skipped'> {
  if (now <= s.cursor) return { cursor: s.cursor, skipped: s.skipped };
  const { count } = occurrencesBetween(cronOf(s.cron, s.tz), s.cursor, now, 0);
  return { cursor: now, skipped: s.skipped + count };
}
