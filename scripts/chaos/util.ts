// Small helpers the chaos modules share: sleeping, polling with a deadline, the repo root.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (resolved with it) or the deadline passes (null). */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs: number, intervalMs = 100): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() >= deadline) return null;
    await sleep(intervalMs);
  }
}

/** The checkout this file lives in: from scripts/chaos (vitest) or dist/scripts/chaos (node). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('chaos: cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}
