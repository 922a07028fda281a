// --run-at and a --file line's "runAt": an ISO 8601 date-time WITH its zone, read strictly
// (Date.parse takes a zoneless time as local time and turns 2025-02-30 into March 2: both are
// refused), and not in the past: at the CLI, a time already gone is likelier a wrong date or
// zone than a wish to run now (the library runs such a task at once instead).

import { MAX_DELAY_MS } from '../shared/protocol/task-record.js';

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/i;

/** Why a --run-at value is refused: the caller words it (a usage error, or a file line's). */
export class RunAtError extends Error {}

/** An ISO 8601 date-time with a zone (Z or ±hh:mm) as ms since the epoch; NaN when it is not one. */
export function parseIsoTime(text: string): number {
  const m = ISO_RE.exec(text.trim());
  if (!m) return NaN;
  const [y, mo, d, h, mi, s = 0] = m.slice(1, 7).map((v) => Number(v ?? 0)) as number[];
  const ms = m[7] ? Math.ceil(Number(`0.${m[7]}`) * 1000) : 0;
  const days = new Date(Date.UTC(y!, mo!, 0)).getUTCDate(); // days in month mo
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > days || h! > 23 || mi! > 59 || s > 59) return NaN;
  const offH = Number(m[10] ?? 0);
  const offM = Number(m[11] ?? 0);
  if (offH > 23 || offM > 59) return NaN;
  const offset = (m[9] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s, ms) - offset;
}

/** A run-at time (ISO text, or ms since the epoch from a JSON line) checked to be ahead of `now`. */
export function parseRunAt(v: unknown, now = Date.now()): number {
  const at = typeof v === 'number' ? v : typeof v === 'string' ? parseIsoTime(v) : NaN;
  if (!Number.isFinite(at)) {
    throw new RunAtError(`${JSON.stringify(v)} is not an ISO 8601 date-time with a zone (e.g. 2030-05-01T12:00:00Z or 2030-05-01T14:00:00+02:00)`);
  }
  if (at <= now) {
    throw new RunAtError(`${JSON.stringify(v)} is in the past (now is ${new Date(now).toISOString()}); leave it out to run the task at once`);
  }
  // The record's own bound, here too: so `--run-at` past it is a usage error as `--delay 366d` is.
  if (at - now > MAX_DELAY_MS) throw new RunAtError(`${JSON.stringify(v)} is more than 365 days ahead`);
  return at;
}
