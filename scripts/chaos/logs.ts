// Reading the JSON log lines the drover processes wrote (one file per process incarnation).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LogLine {
  level: number;
  time: number;
  pid: number;
  msg: string;
  [k: string]: unknown;
}

export function readLogLines(file: string): LogLine[] {
  if (!existsSync(file)) return [];
  const out: LogLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      /* a line cut short by a kill */
    }
  }
  return out;
}

/** Every process log in `dir` (m1.1.log, w3.2.log, ...). */
export function processLogFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^[mw]\d+\.\d+\.log$/.test(f))
    .map((f) => join(dir, f));
}
