// The one size rule of a JSON value: the UTF-8 bytes of its JSON text. Payloads, labels and
// schedule payloads at submit (task-record.ts), and a handler's result and progress in the
// worker and in a sandbox before it crosses.

/**
 * A value's JSON and its UTF-8 size; undefined when JSON has no text for it (undefined, a
 * function). Throws what JSON.stringify throws (a cycle, a BigInt).
 */
export function jsonSize(value: unknown): { json: string; bytes: number } | undefined {
  const json = JSON.stringify(value) as string | undefined;
  return json === undefined ? undefined : { json, bytes: Buffer.byteLength(json, 'utf8') };
}

/** The UTF-8 bytes of a value's JSON (0 when JSON has no text for it). */
export function jsonBytes(value: unknown): number {
  return jsonSize(value)?.bytes ?? 0;
}
