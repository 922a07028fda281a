import type { Argv } from 'yargs';
import { TASK_STATES, type TaskState } from '../../shared/protocol/task-state.js';
import { checkInts, globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { attemptsUsed } from '../../shared/protocol/task-state.js';

interface ListArgs extends GlobalArgs {
  state?: TaskState;
  limit: number;
}

export const command = 'list';
export const describe = 'list tasks, optionally in one state';

export function builder(y: Argv): Argv<ListArgs> {
  return globalOptions(y)
    .option('state', { type: 'string', choices: TASK_STATES as unknown as string[], describe: 'only tasks in this state' })
    .option('limit', { type: 'number', default: 1000, describe: 'at most this many' })
    .check((a) => checkInts(a, { limit: [1, 1_000_000] })) as unknown as Argv<ListArgs>;
}

export async function handler(argv: ListArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const tasks = await client.list({ state: argv.state, limit: argv.limit });
    if (argv.json) {
      printJson(tasks);
      return EXIT.ok;
    }
    for (const t of tasks) {
      process.stdout.write(`${t.id}\t${t.type}\t${t.state}\tattempt ${t.attempt} (${attemptsUsed(t)}/${t.maxAttempts} used, ${t.lost ?? 0} lost)\t${t.worker ?? '-'}\n`);
    }
    process.stdout.write(`${tasks.length} task(s)\n`);
    return EXIT.ok;
  }, { readOnly: true });
}
