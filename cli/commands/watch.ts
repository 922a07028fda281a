// Placeholder: `drover watch` lands with issue 13.
import type { Argv } from 'yargs';
import { globalOptions, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

export const command = 'watch';
export const describe = '(not yet built)';

export function builder(y: Argv): Argv<GlobalArgs> {
  return globalOptions(y);
}

export async function handler(_argv: GlobalArgs): Promise<ExitCode> {
  process.stderr.write('drover: watch is not built yet\n');
  return EXIT.error;
}
