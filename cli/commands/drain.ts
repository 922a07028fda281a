// drover drain WORKER [--wait] | drain --cancel WORKER (client/control.ts): the worker finishes
// what it runs, takes no more and leaves; its `drover worker` process exits 0.
import type { Argv } from 'yargs';
import { WorkerNotFoundError } from '../../client/control.js';
import { globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { onInterrupt } from '../signals.js';
import { assertWorkerId } from '../../shared/protocol/paths.js';

interface DrainArgs extends GlobalArgs {
  worker: string;
  wait: boolean;
  cancel: boolean;
}

export const command = 'drain <worker>';
export const describe = 'ask a worker to finish what it runs, take no more, and leave (returns once asked)';

export function builder(y: Argv): Argv<DrainArgs> {
  return globalOptions(y)
    .positional('worker', { type: 'string', demandOption: true, describe: 'the worker id (its --id)' })
    .option('wait', { type: 'boolean', default: false, describe: 'return only once that worker has left' })
    .option('cancel', { type: 'boolean', default: false, describe: 'take a pending drain request back' })
    .check((a) => {
      assertWorkerId(String(a.worker));
      if (a.wait && a.cancel) throw new Error('give --wait or --cancel, not both');
      return true;
    }) as unknown as Argv<DrainArgs>;
}

export async function handler(argv: DrainArgs): Promise<ExitCode> {
  const id = String(argv.worker);
  return withClient(argv, async (client) => {
    if (argv.cancel) {
      const removed = await client.cancelDrain(id);
      if (argv.json) printJson({ worker: id, cancelled: removed });
      else process.stdout.write(removed ? `drain of ${id} cancelled\n` : '');
      if (!removed) process.stderr.write(`drover: no drain request for ${id}\n`);
      return removed ? EXIT.ok : EXIT.notFound;
    }
    let r;
    try {
      r = await client.drain(id);
    } catch (err) {
      if (!(err instanceof WorkerNotFoundError)) throw err;
      process.stderr.write(`drover: ${err.message}\n`);
      return EXIT.notFound;
    }
    if (argv.json) printJson({ worker: id, requested: r.requested, members: r.members });
    else process.stdout.write(`${id} asked to drain${r.requested ? '' : ' (already asked)'}\n`);
    if (!argv.wait) return EXIT.ok;
    const stop = new AbortController();
    const off = onInterrupt(() => stop.abort());
    try {
      await client.waitWorkerGone(id, stop.signal);
    } catch (err) {
      if (!stop.signal.aborted) throw err;
      process.stderr.write(`drover: interrupted; ${id} goes on draining\n`);
      return EXIT.interrupted;
    } finally {
      off();
    }
    if (!argv.json) process.stdout.write(`${id} has left\n`);
    return EXIT.ok;
  }, { readOnly: true });
}
