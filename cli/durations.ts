// Durations as a person types them (`250ms`, `5s`, `1h30m`; a plain number is ms), for options
// and for --since; a bad one is a UsageError naming its option (exit 2, before connecting).
import { UsageError } from './usage-error.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

/**
 * A duration as a person types it: `250ms`, `5s`, `2m`, `1h`, `1d`, or several (`1h30m`); a
 * plain number is milliseconds. Whole milliseconds (rounded). `option` names the option in
 * the error (a UsageError: exit 2, before connecting).
 */
export function parseDuration(text: unknown, option: string): number {
  const s = typeof text === 'number' ? String(text) : typeof text === 'string' ? text.trim() : '';
  if (/^\d+(?:\.\d+)?$/.test(s)) return Math.round(Number(s));
  if (!DURATION_RE.test(s)) {
    throw new UsageError(`--${option}: ${JSON.stringify(text)} is not a duration (use e.g. 250ms, 5s, 2m, 1h, 1d, 1h30m, or a number of ms)`);
  }
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return Math.round(ms);
}

/**
 * A yargs option holding a duration (parseDuration): typed as text, read as ms. Every option
 * where a person types time uses it: `.option('grace', durationOption('grace', 'drain time', 30_000))`
 * (yargs gives a coerce function no option name, hence the name twice). Ranges are still
 * checked by checkInts on the ms.
 */
export function durationOption(name: string, describe: string, defaultMs?: number) {
  return {
    type: 'string' as const,
    describe: `${describe} (250ms, 5s, 2m, 1h; a plain number is ms)`,
    ...(defaultMs === undefined ? {} : { default: defaultMs as unknown as string, defaultDescription: formatDuration(defaultMs) }),
    coerce: (v: unknown): number => parseDuration(v, name),
  };
}

/**
 * --since: a duration back from now (`15m`: the last 15 minutes) or a date/time (ISO 8601,
 * `2024-05-01T12:00:00Z`); ms since the epoch.
 */
export function parseSince(text: unknown, option: string, now = Date.now()): number {
  const s = typeof text === 'string' ? text.trim() : String(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const t = Date.parse(s);
    if (Number.isNaN(t)) throw new UsageError(`--${option}: ${JSON.stringify(text)} is not a date (use ISO 8601, e.g. 2024-05-01T12:00:00Z) or a duration back from now (15m)`);
    return t;
  }
  try {
    return now - parseDuration(s, option);
  } catch {
    throw new UsageError(`--${option}: ${JSON.stringify(text)} is neither a duration back from now (15m, 2h, 1d) nor an ISO 8601 date`);
  }
}

/** ms as the shortest duration text that parseDuration reads back (90000 → 1m30s). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms);
  if (ms === 0) return '0';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
