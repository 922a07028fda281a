// drover pause [--type T]: the leader assigns nothing of the scope (client/control.ts).
import type { Argv } from 'yargs';
import type { PausedScopes } from '../../client/control.js';
import { globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

export interface ScopeArgs extends GlobalArgs {
  type?: string;
}

export const command = 'pause';
export const describe = 'stop the leader assigning (all tasks, or one --type); running tasks finish, queued ones wait';

export function builder(y: Argv): Argv<ScopeArgs> {
  return globalOptions(y).option('type', { type: 'string', describe: 'pause only this task type (again for more types)' }) as unknown as Argv<ScopeArgs>;
}

/** One line: what is paused now. */
export function pausedLine(p: PausedScopes): string {
  const scopes = [...(p.all ? ['all types'] : []), ...p.types.map((t) => t.type)];
  return scopes.length ? `paused: ${scopes.join(', ')}` : 'nothing paused';
}

export async function handler(argv: ScopeArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const p = await client.pause(argv.type === undefined ? {} : { type: argv.type });
    if (argv.json) printJson(p);
    else process.stdout.write(`${pausedLine(p)}\n`);
    return EXIT.ok;
  }, { readOnly: true });
}
