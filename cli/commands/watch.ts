// drover watch [ID...]: task events as they happen, from the task feed (client/task-feed.ts).
// With ids: the current state of each first, then its changes; exits once all are terminal
// (exitForOutcomes: 0 all succeeded, 5 one failed, else 6 one cancelled, as submit --wait). An
// id with no task is named in one line and the command exits not-found (4) at once, as `get`
// does: it does not wait for the task to appear. Ids and --type do not go together (a task of
// another type would never be shown, so never seen to end). Without ids: every task (of
// --type) until SIGINT/SIGTERM. ZooKeeper away for --connect-timeout (at start, while the feed
// opens, or later) ends it with exit 3. A reader that goes away (`| head -1`) ends it with 0.
import type { Argv } from 'yargs';
import type { TaskEvent, TaskFeed } from '../../client/task-feed.js';
import { isTerminal, type TaskState } from '../../shared/protocol/task-state.js';
import type { SessionState } from '../../shared/zk/session.js';
import { ConnectionLossError } from '../../shared/zk/errors.js';
import { UsageError, checkTaskId, globalOptions, printJson, zkAuthOf, type GlobalArgs } from '../common.js';
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
    .option('type', { type: 'string', describe: 'only tasks of this type (not with ids)' })
    .check((a) => {
      const ids = (a.id ?? []) as unknown[];
      if (ids.length > 0 && a.type !== undefined) throw new UsageError('watch: give task ids or --type, not both');
      return ids.every((id) => checkTaskId(String(id)));
    }) as unknown as Argv<WatchArgs>;
}

/** Settles once: the first of the ways watch ends wins. */
function ending() {
  let resolve!: (c: ExitCode) => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<ExitCode>((res, rej) => ((resolve = res), (reject = rej)));
  done.catch(() => undefined);
  return { done, resolve, reject };
}

export async function handler(argv: WatchArgs): Promise<ExitCode> {
  // yargs gives `[id..]` as [] when none is named: that is every task, not none.
  const ids = argv.id?.length ? argv.id.map(String) : undefined;
  const end = ending();
  // The reader went away (`watch | head -1`): nothing more to say to anyone; not an error.
  const onStdoutError = (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? end.resolve(EXIT.ok) : end.reject(err));
  process.stdout.on('error', onStdoutError);
  const [{ ZkSession }, { TaskFeed }] = await Promise.all([import('../../shared/zk/session.js'), import('../../client/task-feed.js')]);
  const session = await ZkSession.open({ connectString: argv.zk, auth: zkAuthOf(argv), connectTimeoutMs: argv.connectTimeout, sessionTimeoutMs: argv.sessionTimeout });
  let feed: TaskFeed | undefined;
  let stopInterrupt = () => {};
  let awayTimer: NodeJS.Timeout | undefined;
  // Away (disconnected, expired) for --connect-timeout: give up rather than hang. Armed before
  // the feed opens (its reads wait for ZooKeeper to come back), and at once for a state
  // already away by the time the listener is on.
  const onState = (state: SessionState) => {
    if (state === 'connected') {
      clearTimeout(awayTimer);
      awayTimer = undefined;
    } else if (!awayTimer && state !== 'closed') {
      awayTimer = setTimeout(() => end.reject(new ConnectionLossError('CONNECTION_LOSS', `no ZooKeeper session for ${argv.connectTimeout} ms (${argv.zk})`)), argv.connectTimeout);
    }
  };
  session.on('state', onState);
  onState(session.state);
  try {
    const opening = TaskFeed.open({ session, root: argv.root, ...(ids ? { ids } : {}), ...(argv.type ? { type: argv.type } : {}) });
    opening.then((f) => (feed = f)).catch(() => undefined);
    const f = await Promise.race([opening, end.done.then(() => null)]);
    if (!f) return await end.done;
    const missing = f.missing();
    if (missing.length > 0) {
      process.stderr.write(`drover: no such task: ${missing.join(', ')}\n`);
      return EXIT.notFound;
    }
    const ended = new Map<string, TaskState>();
    const wanted = ids ? new Set(ids).size : 0;
    f.on('event', (e: TaskEvent) => {
      if (argv.json) printJson(eventJson(e));
      else process.stdout.write(eventLine(e) + '\n');
      if (!ids || e.kind !== 'finished' || !isTerminal(e.state)) return;
      ended.set(e.id, e.state);
      if (ended.size === wanted) end.resolve(exitForOutcomes(ended.values()));
    });
    f.on('error', (err) => process.stderr.write(`drover: ${err.message.split('\n')[0]}\n`));
    // With ids an interrupt ends the wait (the tasks go on): 130; without, it is how watch ends: 0.
    if (ids) stopInterrupt = onInterrupt(() => end.resolve(EXIT.interrupted));
    else void onShutdown(async () => end.resolve(EXIT.ok));
    return await end.done;
  } finally {
    stopInterrupt();
    session.off('state', onState);
    clearTimeout(awayTimer);
    await feed?.close().catch(() => undefined);
    await session.close().catch(() => undefined);
  }
}
