import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import type { RunningHttpServer } from '../../shared/http/server.js';
import type { HandlerMap } from '../../worker/handlers.js';
import { authFailure, checkInts, checkMemberId, durationOption, globalOptions, loggerFor, parseLabels, serveOptions, UsageError, zkAuthOf, type GlobalArgs, type ServeArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { SandboxKind } from '../../worker/sandbox/protocol.js';
import { onShutdown } from '../signals.js';

interface WorkerArgs extends GlobalArgs, ServeArgs {
  id: string;
  concurrency: number;
  handlers?: string;
  labels?: string;
  grace: number;
  sandbox?: SandboxKind;
  sandboxGrace: number;
  sandboxMemory?: number;
}

export const command = 'worker';
export const describe = 'run a worker: registers, takes assigned tasks and runs their handlers';

export function builder(y: Argv): Argv<WorkerArgs> {
  return serveOptions(globalOptions(y), '/metrics and /healthz')
    .option('id', { type: 'string', describe: 'name of this worker', default: `${hostname()}-${process.pid}` })
    .option('concurrency', { type: 'number', describe: 'tasks run at once (its capacity)', default: 4 })
    .option('handlers', { type: 'string', describe: 'module exporting { [type]: async (payload, ctx) => result }' })
    .option('labels', { type: 'string', describe: 'labels tasks can require: k=v,...' })
    .option('grace', durationOption('grace', 'how long a drain waits for running tasks', 30_000))
    .option('sandbox', { type: 'string', choices: ['thread', 'process'] as const, describe: 'run the --handlers module outside the worker\'s event loop: worker threads or child processes (at most --concurrency, reused)' })
    .option('sandbox-grace', durationOption('sandbox-grace', 'how long an aborted handler may go on before its sandbox is terminated', 2000))
    .option('sandbox-memory', { type: 'number', describe: 'old-generation heap of each sandbox, MB (thread resourceLimits, process --max-old-space-size)' })
    .check((a) => {
      checkMemberId(a.id);
      if (a.sandbox !== undefined && a.handlers === undefined) throw new UsageError('--sandbox needs --handlers FILE (the module its sandboxes load)');
      return checkInts(a, { concurrency: [1, 1000], grace: [0, 86_400_000], 'sandbox-grace': [0, 3_600_000], 'sandbox-memory': [8, 1_048_576] });
    }) as unknown as Argv<WorkerArgs>;
}

export async function handler(argv: WorkerArgs): Promise<ExitCode> {
  // Loaded here, not at the top: every other command starts without the worker.
  const [{ Worker }, { loadHandlers }, { createMetricsRegistry }, { baseUrl, healthRoute, metricsRoute, startHttpServer }, { ZkSession }] = await Promise.all([
    import('../../worker/worker.js'),
    import('../../worker/handlers.js'),
    import('../../shared/metrics/registry.js'),
    import('../../shared/http/server.js'),
    import('../../shared/zk/session.js'),
  ]);
  const root = await loggerFor(argv);
  const metrics = createMetricsRegistry();
  const log = root.child({ workerId: argv.id });
  // Sandboxed: the module is loaded by the sandboxes only (the worker learns its types at start).
  const sandbox = argv.sandbox && argv.handlers ? { kind: argv.sandbox, module: argv.handlers, graceMs: argv.sandboxGrace, ...(argv.sandboxMemory !== undefined ? { maxOldGenerationMb: argv.sandboxMemory } : {}) } : undefined;
  const handlers: HandlerMap = argv.handlers && !sandbox ? await loadHandlers(argv.handlers) : {};
  const labels = parseLabels(argv.labels);
  const session = await ZkSession.open({
    connectString: argv.zk,
    auth: zkAuthOf(argv),
    sessionTimeoutMs: argv.sessionTimeout,
    connectTimeoutMs: argv.connectTimeout,
    log,
    metrics,
  });
  const worker = new Worker({
    session,
    root: argv.root,
    id: argv.id,
    concurrency: argv.concurrency,
    handlers,
    ...(sandbox ? { sandbox } : {}),
    labels,
    gracePeriodMs: argv.grace,
    sessionTimeoutMs: argv.sessionTimeout,
    log: root,
    metrics,
  });
  let http: RunningHttpServer | undefined;
  let started = false;
  try {
    // The port first: a port in use is refused before this worker registers and takes tasks.
    if (argv.http !== undefined) {
      http = await startHttpServer({
        port: argv.http,
        host: argv.httpHost,
        routes: [healthRoute(() => ({ ok: session.state === 'connected' && worker.state === 'running', zookeeper: session.state, worker: worker.state })), metricsRoute(metrics)],
      });
      log.info({ url: `${baseUrl(http)}metrics` }, `metrics on ${baseUrl(http)}metrics`);
    }
    started = true;
    // ZooKeeper refusing our credentials mid-run closes the session: exit 1 with its line.
    const refused = authFailure(session);
    // Its root destroyed while its session was expired: exit 1 with the line, as a start there does.
    const gone = worker.whenGone;
    await Promise.race([worker.start(), refused, gone]);
    // The worker said 'worker alive' (with its member name, concurrency and types) as it started.
    // Until a signal, or a drain request (`drover drain`) that stopped the worker by itself: exit 0 either way.
    await Promise.race([
      onShutdown(async (signal) => {
        log.info({ signal }, 'draining');
        await worker.stop();
      }),
      worker.whenStopped,
      refused,
      gone,
    ]);
  } finally {
    await http?.close();
    if (started) await worker.stop();
    await session.close();
  }
  return EXIT.ok;
}
