// Messages that go into a record (an error's message, a cancel's reason) are bounded: a
// thrown megabyte, a long reason or a worker with thousands of handler names must not make
// a record, or the multi that writes it, too big for one ZooKeeper request.

/** Longest message kept in a record (RECORD_ROOM_BYTES leaves room for it, JSON-escaped). */
export const MAX_ERROR_MESSAGE_CHARS = 4096;

/**
 * `m` cut to at most `max` characters in all, saying so and how long it was. A message cut
 * once is left as it is (its length is within `max`), so cutting again changes nothing.
 */
export function cutMessage(m: string, max = MAX_ERROR_MESSAGE_CHARS): string {
  if (m.length <= max) return m;
  const note = `… (${m.length} characters, cut)`;
  return m.slice(0, Math.max(0, max - note.length)) + note;
}

/**
 * What a handler threw, as a bounded string, whatever it threw: a non-Error, an object
 * without a prototype or whose toString throws, an Error whose message is not a string.
 */
export function errorMessage(err: unknown): string {
  let m: string;
  try {
    const raw: unknown = err instanceof Error ? err.message : err;
    m = typeof raw === 'string' ? raw : String(raw);
  } catch {
    m = Object.prototype.toString.call(err);
  }
  return cutMessage(m);
}
