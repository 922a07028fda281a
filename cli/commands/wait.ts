// `drover wait ID...`: re-attach to submitted tasks (after an interrupted `submit --wait`, or
// one that lost ZooKeeper) and wait until every one is terminal; outcomes and exit codes as
// `submit --wait` prints them. `-` reads the ids from stdin (whitespace-separated).
import type { Argv } from 'yargs';
import { awaitTasks } from '../await-tasks.js';
import { checkInts, checkTaskId, durationOption, globalOptions, UsageError, withClient, type GlobalArgs } from '../common.js';
import type { ExitCode } from '../exit-codes.js';
import { progressFor } from '../progress.js';
import { readStdin } from '../task-input.js';

interface WaitArgs extends GlobalArgs {
  ids?: string[];
  stdin: boolean;
  timeout?: number;
  progress: boolean;
}

export const command = 'wait [ids..]';
export const describe = 'wait for submitted tasks to finish and print their outcomes (- reads ids from stdin)';

export function builder(y: Argv): Argv<WaitArgs> {
  return globalOptions(y)
    .positional('ids', { type: 'string', array: true, describe: 'task ids, or - to read them from stdin' })
    .option('stdin', { type: 'boolean', default: false, hidden: true, describe: 'read the ids from stdin (what - stands for)' })
    .option('timeout', durationOption('timeout', 'give up after this long (exit 7)'))
    .option('progress', { type: 'boolean', default: true, describe: 'for many ids: progress on stderr (a bar when stderr is a terminal and stdout is not, lines otherwise); --no-progress for none' })
    .check((a) => {
      const ids = ((a.ids as unknown[] | undefined) ?? []).map(String);
      if (a.stdin && ids.length > 0) throw new UsageError('wait: give ids, or - to read them from stdin, not both');
      if (!a.stdin && ids.length === 0) throw new UsageError('wait: give the ids of the tasks to wait for, or - to read them from stdin');
      for (const id of ids) checkTaskId(id);
      return checkInts(a, { timeout: [0, 2_147_483_647] });
    }) as unknown as Argv<WaitArgs>;
}

export async function handler(argv: WaitArgs): Promise<ExitCode> {
  let ids = (argv.ids ?? []).map(String);
  if (argv.stdin) {
    ids = (await readStdin('wait')).split(/\s+/).filter(Boolean);
    if (ids.length === 0) throw new UsageError('wait -: stdin holds no task ids');
    for (const id of ids) checkTaskId(id);
  }
  // The same id twice is one task: waited on and printed once.
  ids = [...new Set(ids)];
  const progress = progressFor(ids.length, argv.progress);
  return withClient(argv, (client) => awaitTasks(client, ids, { json: argv.json, single: ids.length === 1 && !argv.stdin, timeoutMs: argv.timeout, progress }), { readOnly: true });
}
