// drover retry ID | drover retry --state failed|cancelled [--type T] [--limit N] [--yes]:
// queue failed or cancelled tasks again with a fresh attempt budget (client/retry.ts).
// A bulk retry runs handlers again, for tasks perhaps nobody looked at: without --yes it is a
// dry run that says how many it would queue (exit 0, nothing written). --yes counts only on
// the command line (hidden from the config layer, as admin destroy's: no DROVER_RETRY_YES, no
// file key), so a setting left behind never turns a dry run into a mass retry.
import type { Argv } from 'yargs';
import { RETRYABLE_STATES } from '../../shared/protocol/task-state.js';
import { UsageError, checkInts, checkTaskId, globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

interface RetryArgs extends GlobalArgs {
  id?: string;
  state?: 'failed' | 'cancelled';
  type?: string;
  limit?: number;
  yes: boolean;
}

export const command = 'retry [id]';
export const describe = 'queue a failed or cancelled task again with a fresh attempt budget (or all of a state: --state, a dry run unless --yes is on the command line)';

export function builder(y: Argv): Argv {
  return globalOptions(y)
    .positional('id', { type: 'string', describe: 'the task to retry' })
    .usage('$0 retry ID\n$0 retry --state failed|cancelled [--type T] [--limit N] [--yes]\n\nqueue failed or cancelled tasks again with a fresh attempt budget; with --state, a dry run that counts them unless --yes is given on the command line (never from DROVER_RETRY_YES or a config file)')
    .option('state', { type: 'string', choices: RETRYABLE_STATES as unknown as string[], describe: 'retry every task in this state (instead of an id)' })
    .option('type', { type: 'string', describe: 'with --state: only tasks of this type' })
    .option('limit', { type: 'number', describe: 'with --state: retry at most this many (the first found in the done index\'s order: shard by shard, not the oldest or newest)' })
    // Hidden: the config layer skips hidden options (cli/config-file.ts); the usage line names it.
    .option('yes', { type: 'boolean', default: false, hidden: true })
    .check((a) => {
      if ((a.id === undefined) === (a.state === undefined)) throw new UsageError('retry: give a task id or --state failed|cancelled');
      if (a.id !== undefined) {
        checkTaskId(a.id);
        for (const k of ['type', 'limit'] as const) if (a[k] !== undefined) throw new UsageError(`retry: --${k} goes with --state, not an id`);
      }
      return checkInts(a, { limit: [1, Number.MAX_SAFE_INTEGER] });
    }) as unknown as Argv;
}

export async function handler(argv: RetryArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    if (argv.id !== undefined) {
      const id = String(argv.id);
      const r = await client.retry(id);
      if (argv.json) printJson({ id, ...r });
      else if (r.retried) process.stdout.write(`${id} queued again\n`);
      else process.stderr.write(`drover: task ${id} is ${r.state === 'queued' ? 'already queued' : r.state}: only failed or cancelled tasks can be retried\n`);
      return r.retried ? EXIT.ok : EXIT.error;
    }
    const state = argv.state!;
    const r = await client.retryMany({ state, type: argv.type, limit: argv.limit, dryRun: !argv.yes });
    const what = (n: number) => `${n} ${state} task${n === 1 ? '' : 's'}${argv.type !== undefined ? ` of type ${argv.type}` : ''}`;
    if (argv.json) printJson({ state, type: argv.type ?? null, dryRun: !argv.yes, ...r });
    else if (!argv.yes) process.stdout.write(`${what(r.matched)} would be queued again (dry run: add --yes to retry them)\n`);
    else process.stdout.write(`${what(r.retried)} queued again${r.changed ? ` (${r.changed} changed meanwhile, left alone)` : ''}\n`);
    return EXIT.ok;
  }, { readOnly: true });
}
