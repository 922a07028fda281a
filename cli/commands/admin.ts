// Placeholder registered by the lead's seam commit; its owner replaces it whole.
import type { Argv } from 'yargs';
import { globalOptions } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

export const command = 'admin <command>';
export const describe = 'list or remove cluster roots on the ensemble';

export function builder(y: Argv): Argv {
  return globalOptions(y) as unknown as Argv;
}

export async function handler(): Promise<ExitCode> {
  process.stderr.write('drover: admin is not built yet\n');
  return EXIT.error;
}
