// GET /metrics of a real process and its Prometheus text parsed into samples, for tests that
// check what a scrape shows. The base URL comes from the process's JSON log line whose `url`
// field holds it (the CLI logs it once its HTTP server is bound).
import type { DroverProcess } from './processes.js';

/** One scrape: `name{a="x",b="y"}` (labels in the order printed) → value. */
export class Scrape {
  constructor(readonly samples: ReadonlyMap<string, number>) {}

  /** The value of `name` with exactly these labels (none: the unlabelled sample), or undefined. */
  get(name: string, labels: Record<string, string> = {}): number | undefined {
    for (const [key, v] of this.samples) {
      const p = parseKey(key);
      if (p.name !== name) continue;
      const ks = Object.keys(p.labels);
      if (ks.length === Object.keys(labels).length && ks.every((k) => labels[k] === p.labels[k])) return v;
    }
    return undefined;
  }

  /** The sum of the samples of `name` whose labels include `labels` (0 when none). */
  sum(name: string, labels: Record<string, string> = {}): number {
    let n = 0;
    for (const [key, v] of this.samples) {
      const p = parseKey(key);
      if (p.name === name && Object.entries(labels).every(([k, x]) => p.labels[k] === x)) n += v;
    }
    return n;
  }

  /** The non-zero samples of `name`, keyed by the values of `keys` joined with '/'. */
  by(name: string, keys: string[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, v] of this.samples) {
      const p = parseKey(key);
      if (p.name === name && v !== 0) out[keys.map((k) => p.labels[k]).join('/')] = v;
    }
    return out;
  }

  /** Whether any sample of `name` (any labels) is there. */
  has(name: string): boolean {
    for (const key of this.samples.keys()) if (parseKey(key).name === name) return true;
    return false;
  }
}

function parseKey(key: string): { name: string; labels: Record<string, string> } {
  const i = key.indexOf('{');
  if (i < 0) return { name: key, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of key.slice(i + 1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
  return { name: key.slice(0, i), labels };
}

export function parseMetrics(text: string): Scrape {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    samples.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return new Scrape(samples);
}

/** The base URL a process logged for its HTTP server (waits for the line). */
export async function httpUrlOf(p: DroverProcess, timeoutMs = 15_000): Promise<string> {
  const line = await p.waitForLine((l) => typeof l.url === 'string', timeoutMs, `${p.name}: its HTTP url`);
  return line.url as string;
}

export async function scrape(baseUrl: string): Promise<Scrape> {
  const res = await fetch(new URL('/metrics', baseUrl));
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain')) throw new Error(`GET /metrics: content-type ${type}`);
  return parseMetrics(await res.text());
}
