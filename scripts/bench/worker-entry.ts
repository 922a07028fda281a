// A bench child: one or many drover Workers (each its own ZooKeeper session) built from the
// library, with the built-in handlers plus `mark`, which prints when it starts (the bench's
// start-latency probe: same machine, same clock). Says `up` once every worker has started.
// With `deferred`, it loads, says `ready` and starts its workers on SIGUSR1 only: the bench
// can then have workers register within milliseconds of a chosen moment (a node process
// takes a second or more to load on a busy 2-core machine).
import { Worker, type TaskContext } from '../../index.js';
import { emit, entryArgs, runEntry, stderrLogger } from './entry-io.js';

interface WorkerEntryArgs {
  connectString: string;
  root: string;
  ids: string[];
  concurrency: number;
  sessionTimeoutMs: number;
  deferred?: boolean;
}

const a = entryArgs<WorkerEntryArgs>();
const log = stderrLogger();
const handlers = {
  mark: (_payload: unknown, ctx: TaskContext) => {
    emit('start', { id: ctx.taskId });
    return null;
  },
};
const workers = a.ids.map(
  (id) => new Worker({ connectString: a.connectString, root: a.root, id, concurrency: a.concurrency, sessionTimeoutMs: a.sessionTimeoutMs, handlers, gracePeriodMs: 2000, log }),
);
runEntry(() => Promise.all(workers.map((w) => w.stop())).then(() => undefined));
if (a.deferred) {
  // A signal listener alone does not keep node alive (it would exit 13 with this await pending).
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const go = new Promise((resolve) => process.once('SIGUSR1', resolve));
  emit('ready', { pid: process.pid });
  await go;
  clearInterval(keepAlive);
}
// Twenty at a time: a hundred sessions opened at once on a 2-core machine would time out.
for (let i = 0; i < workers.length; i += 20) await Promise.all(workers.slice(i, i + 20).map((w) => w.start()));
emit('up', { pid: process.pid, workers: workers.length });
