import type { Argv } from 'yargs';
import { checkTaskId, globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

interface CancelArgs extends GlobalArgs {
  id: string;
}

export const command = 'cancel <id>';
export const describe = 'cancel a task (queued: removed from the queue; running: aborted)';

export function builder(y: Argv): Argv<CancelArgs> {
  return globalOptions(y)
    .positional('id', { type: 'string', demandOption: true })
    .check((a) => checkTaskId(a.id)) as unknown as Argv<CancelArgs>;
}

export async function handler(argv: CancelArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const r = await client.cancel(String(argv.id));
    if (argv.json) printJson({ id: String(argv.id), ...r });
    else process.stdout.write(r.cancelled ? `${argv.id} cancelled\n` : `${argv.id} already ${r.state}\n`);
    // Cancelling a cancelled task is fine (idempotent); one that already ended otherwise is not.
    return r.state === 'cancelled' ? EXIT.ok : EXIT.error;
  }, { readOnly: true });
}
