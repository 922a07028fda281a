// drover drain WORKER [--wait] | drain --cancel WORKER (client/control.ts): the worker finishes
// what it runs, takes no more and leaves; its `drover worker` process exits 0.
import type { Argv } from 'yargs';
import { globalOptions, printJson, UsageError, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { onInterrupt } from '../signals.js';
import { assertWorkerId } from '../../shared/protocol/paths.js';

interface DrainArgs extends GlobalArgs {
  worker: string;
  wait: boolean;
  cancel: boolean;
}

export const command = 'drain <worker>';
export const describe =
  'ask a worker to finish what it runs (up to its --grace: longer attempts are aborted and re-queued), take no more, and leave; returns once asked. ' +
  'A worker of an older drover never sees the request (the leader gives it nothing more): stop it with SIGTERM';

export function builder(y: Argv): Argv<DrainArgs> {
  return globalOptions(y)
    .positional('worker', { type: 'string', demandOption: true, describe: 'the worker id (its --id)' })
    .option('wait', { type: 'boolean', default: false, describe: 'return only once the members asked have left (exit 3 if ZooKeeper stays away --connect-timeout)' })
    .option('cancel', {
      type: 'boolean',
      default: false,
      describe: 'take a drain request back (also the way out for one left by a worker killed before it left: its next start would drain at once); exit 1 if the worker is already draining; command line only (not from DROVER_* or a config file)',
    })
    .check((a) => {
      try {
        assertWorkerId(String(a.worker));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      if (a.wait && a.cancel) throw new UsageError('give --wait or --cancel, not both');
      return true;
    }) as unknown as Argv<DrainArgs>;
}

export async function handler(argv: DrainArgs): Promise<ExitCode> {
  const id = String(argv.worker);
  const { WorkerNotFoundError } = await import('../../client/control.js');
  return withClient(argv, async (client) => {
    if (argv.cancel) return cancel(id, await client.cancelDrain(id), argv.json);
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
      // The members asked, not the id: a supervisor's restart of it is not waited for; but a
      // member one of their processes registers again (after an expiry, still draining) is.
      await client.waitWorkerGone(id, { members: r.members, processes: r.processes, signal: stop.signal });
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

function cancel(id: string, r: { removed: boolean; draining: string[] }, json: boolean | undefined): ExitCode {
  const leaving = r.draining.length > 0;
  if (json) printJson({ worker: id, cancelled: r.removed && !leaving, removed: r.removed, draining: r.draining });
  if (leaving) {
    process.stderr.write(`drover: ${id} is already draining; it will leave\n`);
    return EXIT.error;
  }
  if (!r.removed) {
    process.stderr.write(`drover: no drain request for ${id}\n`);
    return EXIT.notFound;
  }
  if (!json) process.stdout.write(`drain of ${id} cancelled\n`);
  return EXIT.ok;
}
