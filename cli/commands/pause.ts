// drover pause [--type T]: the leader assigns nothing of the scope (client/control.ts).
import type { Argv } from 'yargs';
import type { PausedScopes } from '../../client/control.js';
import { assertTaskType } from '../../shared/protocol/control.js';
import { globalOptions, printJson, UsageError, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

export interface ScopeArgs extends GlobalArgs {
  /** Given again for more types: yargs makes a list. */
  type?: string | string[];
}

export const command = 'pause';
export const describe = "stop the leader assigning (all tasks, or the --type ones) from its next round; running tasks finish, queued ones wait";

export function builder(y: Argv): Argv<ScopeArgs> {
  return globalOptions(y).option('type', { type: 'string', describe: 'pause only this task type (again for more: --type a --type b, one write)' }).check(checkTypes) as unknown as Argv<ScopeArgs>;
}

/** A yargs check: each --type could name a task type (else a usage error, before connecting). */
export function checkTypes(a: { type?: unknown }): true {
  if (a.type === undefined) return true;
  for (const t of Array.isArray(a.type) ? a.type : [a.type]) {
    try {
      assertTaskType(t);
    } catch (err) {
      throw new UsageError(`--type: ${(err as Error).message}`);
    }
  }
  return true;
}

/** What the library takes: no --type is everything. */
export function scopeOf(argv: ScopeArgs): { type?: string | string[] } {
  return argv.type === undefined ? {} : { type: argv.type };
}

/** One line: what is paused now. */
export function pausedLine(p: PausedScopes): string {
  const scopes = [...(p.all ? ['all types'] : []), ...p.types.map((t) => t.type)];
  return scopes.length ? `paused: ${scopes.join(', ')}` : 'nothing paused';
}

export async function handler(argv: ScopeArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const p = await client.pause(scopeOf(argv));
    if (argv.json) printJson(p);
    else process.stdout.write(`${pausedLine(p)}\n`);
    return EXIT.ok;
  }, { readOnly: true });
}
