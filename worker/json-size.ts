// The size rule of what a handler hands back (a result, a progress value): the UTF-8 bytes
// of its JSON. One place, used by the worker's checks and by a sandbox's before a value crosses.

/**
 * A value's JSON and its UTF-8 size; undefined when JSON has no text for it (undefined, a
 * function). Throws what JSON.stringify throws (a cycle, a BigInt).
 */
export function jsonBytes(value: unknown): { json: string; bytes: number } | undefined {
  const json = JSON.stringify(value) as string | undefined;
  return json === undefined ? undefined : { json, bytes: Buffer.byteLength(json, 'utf8') };
}
