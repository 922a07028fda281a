// The config file's "unknown key" error, with the nearest known key it may have meant
// (cli/config-file.ts validateConfigFile).
import { UsageError } from './common.js';
import type { ConfigFile } from './config-file.js';

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

export function unknownKey(file: ConfigFile, key: string, known: Iterable<string>, what: string): UsageError {
  const name = key.split('.').pop()!;
  const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  let best: string | undefined;
  for (const k of known) if (k === kebab || (distance(name, k) <= 2 && (best === undefined || distance(name, k) < distance(name, best)))) best = k;
  return new UsageError(`${file.path}: unknown key "${key}" (${what})${best && best !== name ? `; did you mean "${best}"?` : ''}`);
}
