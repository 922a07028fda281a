// drover limit ... (issue 15): placeholder until built.
import type { Argv } from 'yargs';
import { globalOptions, UsageError, type GlobalArgs } from '../common.js';
import type { ExitCode } from '../exit-codes.js';

export const command = 'limit';
export const describe = 'rate limits and quotas per task type or label: set, list, remove';

export function builder(y: Argv): Argv<GlobalArgs> {
  return globalOptions(y) as unknown as Argv<GlobalArgs>;
}

export async function handler(_argv: GlobalArgs): Promise<ExitCode> {
  throw new UsageError('limit: not built yet');
}
