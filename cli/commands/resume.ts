// drover resume [--type T]: undoes pause (client/control.ts).
import type { Argv } from 'yargs';
import { globalOptions, printJson, withClient } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { checkTypes, pausedLine, scopeOf, type ScopeArgs } from './pause.js';

export const command = 'resume';
export const describe = "let the leader assign again from its next round: without --type everything paused resumes (all, and every type)";

export function builder(y: Argv): Argv<ScopeArgs> {
  return globalOptions(y)
    .option('type', {
      type: 'string',
      describe: 'resume only this type (again for more; refused while all types are paused: resume all, then pause what should stay paused)',
    })
    .check(checkTypes) as unknown as Argv<ScopeArgs>;
}

export async function handler(argv: ScopeArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const p = await client.resume(scopeOf(argv));
    if (argv.json) printJson(p);
    else process.stdout.write(`${pausedLine(p)}\n`);
    return EXIT.ok;
  }, { readOnly: true });
}
