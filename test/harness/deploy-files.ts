// Reading the deployment files the way Docker would, strictly, for test/deploy.test.ts: the
// compose file (with the `yaml` package already in node_modules: merge keys on, duplicate keys
// and any warning an error), the Dockerfile's instructions, an env file, and a drover command
// line parsed by the real CLI's yargs builders without running the command.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { parseDocument } from 'yaml';
import * as master from '../../cli/commands/master.js';
import * as status from '../../cli/commands/status.js';
import * as worker from '../../cli/commands/worker.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const read = (file: string) => readFileSync(join(REPO, file), 'utf8');

export interface Service {
  image?: string;
  build?: unknown;
  command?: unknown;
  environment?: Record<string, string> | string[];
  env_file?: unknown;
  ports?: unknown[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown };
  hostname?: string;
  stop_grace_period?: string;
  profiles?: string[];
}

export function readCompose(): { services: Record<string, Service> } {
  const doc = parseDocument(read('docker-compose.yml'), { merge: true, uniqueKeys: true, strict: true, prettyErrors: true });
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
  if (problems.length > 0) throw new Error(`docker-compose.yml: ${problems.join('; ')}`);
  return doc.toJS({ maxAliasCount: 100 }) as { services: Record<string, Service> };
}

/** A service's environment, either compose form (map or KEY=VALUE list), as a map. */
export function environmentOf(s: Service): Record<string, string> {
  if (s.environment === undefined) return {};
  if (!Array.isArray(s.environment)) return Object.fromEntries(Object.entries(s.environment).map(([k, v]) => [k, String(v)]));
  return parseEnvLines(s.environment);
}

/** KEY=VALUE lines as Docker reads an env file: # comments and blank lines skipped, no quoting. */
export function parseEnvLines(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`not KEY=VALUE: ${JSON.stringify(line)}`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** The env files a service names (short or long compose syntax), as paths. */
export function envFilesOf(s: Service): string[] {
  if (s.env_file === undefined) return [];
  const list = Array.isArray(s.env_file) ? s.env_file : [s.env_file];
  return list.map((e) => (typeof e === 'string' ? e : String((e as { path: unknown }).path)));
}

/** The container port of a published port ("[IP:]HOST:CONTAINER[/tcp]" or a number); only the forms used here. */
export function publishedPort(p: unknown): { host: number; container: number } {
  const m = /^(?:(?:\d{1,3}\.){3}\d{1,3}:)?(\d+):(\d+)(?:\/tcp)?$/.exec(String(p));
  if (!m) throw new Error(`unsupported port syntax ${JSON.stringify(p)}`);
  return { host: Number(m[1]), container: Number(m[2]) };
}

export interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's build stages, each a list of instructions (no line continuations are used). */
export function readDockerfile(): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const line of read('Dockerfile').split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    if (line.endsWith('\\')) throw new Error(`Dockerfile: line continuations are not read here: ${line}`);
    const m = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: not an instruction: ${line}`);
    if (m[1] === 'FROM') stages.push([]);
    if (stages.length === 0) throw new Error('Dockerfile: an instruction before FROM');
    stages.at(-1)!.push({ op: m[1]!, args: m[2]! });
  }
  return stages;
}

/** An ENTRYPOINT/CMD in exec form (a JSON array of strings); the shell form is refused. */
export function execForm(i: Instruction | undefined): string[] {
  if (!i) throw new Error('missing instruction');
  const v: unknown = JSON.parse(i.args);
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new Error(`${i.op} is not in exec form: ${i.args}`);
  return v;
}

// The CLI's commands that the compose file runs. cli/main.ts does not export its command
// list, so a command added to the compose file must be added here too (the test says so).
const COMMANDS: Record<string, { command: string; describe: string; builder: (y: any) => any }> = { master, worker, status };

/**
 * `drover args...` parsed by the CLI's own command builders (strict: an unknown flag, a bad
 * value or a failed check throws), without running anything (no handler attached). Hermetic:
 * this process's DROVER_* variables are hidden meanwhile, so the values come from `args` and
 * the CLI's defaults only (how the container's environment adds to them is the caller's part).
 */
export function parseDrover(args: string[]): Record<string, unknown> {
  const mod = COMMANDS[args[0] ?? ''];
  if (!mod) throw new Error(`command ${JSON.stringify(args[0])} is not known to test/harness/deploy-files.ts (add its module to COMMANDS)`);
  const hidden = Object.entries(process.env).filter(([k]) => k.startsWith('DROVER_'));
  for (const [k] of hidden) delete process.env[k];
  try {
    return yargs(args)
      .scriptName('drover')
      .strict()
      .exitProcess(false)
      .help(false)
      .version(false)
      .fail((msg, err) => {
        throw err ?? new Error(msg);
      })
      .command(mod.command, mod.describe, mod.builder)
      .demandCommand(1)
      .parseSync() as Record<string, unknown>;
  } finally {
    for (const [k, v] of hidden) process.env[k] = v;
  }
}
