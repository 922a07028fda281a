// drover watch [ID...]: task events as they happen, from the task feed (client/task-feed.ts).
// With ids: the current state of each first, then its changes; exits once all are terminal
// (0 all succeeded, 5 one failed, else 6 one cancelled, as submit --wait). An id with no task
// is named in one line and the command exits not-found (4) at once, as `get` does: it does
// not wait for the task to appear. Without ids: every task (of --type) until SIGINT/SIGTERM.
// ZooKeeper away for --connect-timeout (at start or later) ends it with exit 3.
import type { Argv } from 'yargs';
import { TaskFeed, type TaskEvent } from '../../client/task-feed.js';
import { isTerminal, type TaskState } from '../../shared/protocol/task-state.js';
import { ZkSession, type SessionState } from '../../shared/zk/session.js';
import { ConnectionLossError } from '../../shared/zk/errors.js';
import { checkTaskId, globalOptions, printJson, type GlobalArgs } from '../common.js';
import { EXIT, exitForOutcomes, type ExitCode } from '../exit-codes.js';
import { onInterrupt, onShutdown } from '../signals.js';
import { eventJson, eventLine } from '../task-lines.js';

interface WatchArgs extends GlobalArgs {
  id?: string[];
  type?: string;
}

export const command = 'watch [id..]';
export const describe = 'stream task events (queued, assigned, started, progress, retried, lost, finished); with ids, until all are finished';

export function builder(y: Argv): Argv<WatchArgs> {
  return globalOptions(y)
    .positional('id', { type: 'string', array: true, describe: 'tasks to follow (default: every task)' })
    .option('type', { type: 'string', describe: 'only tasks of this type' })
    .check((a) => (a.id ?? []).every((id) => checkTaskId(String(id)))) as unknown as Argv<WatchArgs>;
}

export async function handler(argv: WatchArgs): Promise<ExitCode> {
  const ids = argv.id?.map(String);
  const session = await ZkSession.open({ connectString: argv.zk, connectTimeoutMs: argv.connectTimeout, sessionTimeoutMs: argv.sessionTimeout });
  let feed: TaskFeed | undefined;
  let stopInterrupt = () => {};
  let awayTimer: NodeJS.Timeout | undefined;
  try {
    feed = await TaskFeed.open({ session, root: argv.root, ...(ids ? { ids } : {}), ...(argv.type ? { type: argv.type } : {}) });
    const missing = feed.missing();
    if (missing.length > 0) {
      process.stderr.write(`drover: no such task: ${missing.join(', ')}\n`);
      return EXIT.notFound;
    }
    const f = feed;
    return await new Promise<ExitCode>((resolve, reject) => {
      const ended = new Map<string, TaskState>();
      const print = (e: TaskEvent) => {
        if (argv.json) printJson(eventJson(e));
        else process.stdout.write(eventLine(e) + '\n');
      };
      f.on('event', (e) => {
        print(e);
        if (!ids || e.kind !== 'finished' || !isTerminal(e.state)) return;
        ended.set(e.id, e.state);
        if (ended.size === new Set(ids).size) resolve(exitForOutcomes(ended.values()));
      });
      f.on('error', (err) => process.stderr.write(`drover: ${err.message.split('\n')[0]}\n`));
      // Away (disconnected, expired) for --connect-timeout: give up rather than hang.
      const onState = (state: SessionState) => {
        if (state === 'connected') {
          clearTimeout(awayTimer);
          awayTimer = undefined;
        } else if (!awayTimer && state !== 'closed') {
          awayTimer = setTimeout(() => reject(new ConnectionLossError('CONNECTION_LOSS', `no ZooKeeper session for ${argv.connectTimeout} ms (${argv.zk})`)), argv.connectTimeout);
        }
      };
      session.on('state', onState);
      // With ids an interrupt ends the wait (the tasks go on): 130; without, it is how watch ends: 0.
      if (ids) stopInterrupt = onInterrupt(() => resolve(EXIT.interrupted));
      else void onShutdown(async () => resolve(EXIT.ok));
    });
  } finally {
    stopInterrupt();
    clearTimeout(awayTimer);
    await feed?.close().catch(() => undefined);
    await session.close().catch(() => undefined);
  }
}
