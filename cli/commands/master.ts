import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import type { DroverClient } from '../../client/drover-client.js';
import type { Dashboard } from '../../master/dashboard/index.js';
import type { Master } from '../../master/master.js';
import type { Route, RunningHttpServer } from '../../shared/http/server.js';
import type { Registry } from '../../shared/metrics/registry.js';
import type { Logger } from '../../shared/log.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { authFailure, checkInts, checkMemberId, durationOption, globalOptions, loggerFor, serveOptions, zkAuthOf, type GlobalArgs, type ServeArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { onShutdown } from '../signals.js';

interface MasterArgs extends GlobalArgs, ServeArgs {
  id: string;
  retention: number;
}

export const command = 'master';
export const describe = 'run a master: a candidate for leadership that assigns and recovers tasks while it leads';

export function builder(y: Argv): Argv<MasterArgs> {
  return serveOptions(globalOptions(y), 'the dashboard (GET /), /metrics, /status and /healthz')
    .option('id', { type: 'string', describe: 'name of this master', default: `${hostname()}-${process.pid}` })
    .option('retention', durationOption('retention', 'how long finished tasks are kept', 24 * 3600_000))
    .check((a) => checkMemberId(a.id) && checkInts(a, { retention: [0, 365 * 86_400_000] })) as unknown as Argv<MasterArgs>;
}

export async function handler(argv: MasterArgs): Promise<ExitCode> {
  // Loaded here, not at the top: every other command starts without the master and its dashboard.
  const [{ Master }, { createMetricsRegistry }, { ZkSession }] = await Promise.all([import('../../master/master.js'), import('../../shared/metrics/registry.js'), import('../../shared/zk/session.js')]);
  const root = await loggerFor(argv);
  const log = root.child({ masterId: argv.id });
  const metrics = createMetricsRegistry();
  const session = await ZkSession.open({
    connectString: argv.zk,
    auth: zkAuthOf(argv),
    sessionTimeoutMs: argv.sessionTimeout,
    connectTimeoutMs: argv.connectTimeout,
    log,
    metrics,
  });
  const master = new Master({ session, root: argv.root, id: argv.id, sessionTimeoutMs: argv.sessionTimeout, retentionMs: argv.retention, log: root, metrics });
  let http: HttpSide | undefined;
  try {
    // The port first: a port in use is refused before this master joins the election.
    if (argv.http !== undefined) http = await serveHttp(argv, session, master, metrics, log);
    // ZooKeeper refusing our credentials mid-run (a reconnect to a server without the scheme)
    // closes the session: exit 1 with its line rather than stay up doing nothing.
    const refused = authFailure(session, http?.session);
    const gone = master.whenGone;
    await Promise.race([master.start(), refused, gone]);
    await Promise.race([
      onShutdown(async (signal) => {
        log.info({ signal }, 'shutting down');
        await closeHttp(http);
        http = undefined;
        await master.stop();
      }),
      refused,
      gone,
    ]);
  } finally {
    await closeHttp(http);
    await master.stop();
    await session.close();
  }
  log.info('master stopped');
  return EXIT.ok;
}

interface HttpSide {
  server: RunningHttpServer;
  dashboard: Dashboard;
  client: DroverClient;
  session: ZkSession;
}

async function closeHttp(http: HttpSide | undefined): Promise<void> {
  if (!http) return;
  await http.server.close();
  await http.dashboard.close();
  await http.client.close();
  await http.session.close();
}

async function serveHttp(argv: MasterArgs, roleSession: ZkSession, master: Master, metrics: Registry, log: Logger): Promise<HttpSide> {
  const [{ DroverClient }, { openDashboard }, { hostGuard }, { baseUrl, healthRoute, metricsRoute, sendJson, startHttpServer }, { ZkSession }] = await Promise.all([
    import('../../client/drover-client.js'),
    import('../../master/dashboard/index.js'),
    import('../../master/dashboard/routes.js'),
    import('../../shared/http/server.js'),
    import('../../shared/zk/session.js'),
  ]);
  // The port first (a port in use stops us before anything else is opened); the routes that
  // read ZooKeeper join once their session is open. The Host guard (DNS rebinding) goes first.
  const routes: Route[] = [(req, res) => hostGuard(req, res), healthRoute(() => ({ ok: roleSession.state === 'connected', zookeeper: roleSession.state, role: master.state })), metricsRoute(metrics)];
  const server = await startHttpServer({ port: argv.http!, host: argv.httpHost, routes });
  let session: ZkSession | undefined;
  let client: DroverClient | undefined;
  try {
    // The dashboard and /status read on a session of their own: a page's reads (the task feed,
    // the record of a detail view) never queue behind, or in front of, the leader's assignments,
    // and its loss never touches the role's session. The drover_zk_* metrics are the role's.
    session = await ZkSession.open({
      connectString: argv.zk,
      auth: zkAuthOf(argv),
      sessionTimeoutMs: argv.sessionTimeout,
      connectTimeoutMs: argv.connectTimeout,
      log: log.child({ component: 'http' }),
    });
    const c = (client = await DroverClient.connect({ session, root: argv.root }));
    const dashboard = await openDashboard({ session, root: argv.root, master, log });
    const status: Route = (req, res, url) => {
      if (url.pathname !== '/status' || req.method !== 'GET') return false;
      return c.status().then(
        (st) => (sendJson(res, 200, { ...st, self: { role: master.state } }), true),
        (err) => (sendJson(res, 503, { error: (err as Error).message }), true),
      );
    };
    routes.push(status, ...dashboard.routes);
    log.info({ url: baseUrl(server) }, `dashboard and metrics on ${baseUrl(server)}`);
    return { server, dashboard, client: c, session };
  } catch (err) {
    await server.close();
    await client?.close().catch(() => undefined);
    await session?.close().catch(() => undefined);
    throw err;
  }
}
