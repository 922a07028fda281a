import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { Argv } from 'yargs';
import { DroverClient } from '../../client/drover-client.js';
import { Master } from '../../master/master.js';
import { createLogger } from '../../shared/log.js';
import { ZkSession } from '../../shared/zk/session.js';
import { checkInts, checkMemberId, globalOptions, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { onShutdown } from '../signals.js';

interface MasterArgs extends GlobalArgs {
  id: string;
  http?: number;
  retention: number;
}

export const command = 'master';
export const describe = 'run a master: a candidate for leadership that assigns and recovers tasks while it leads';

export function builder(y: Argv): Argv<MasterArgs> {
  return globalOptions(y)
    .option('id', { type: 'string', describe: 'name of this master', default: `${hostname()}-${process.pid}` })
    .option('http', { type: 'number', describe: 'serve GET /status and /healthz on this port (127.0.0.1)' })
    .option('retention', { type: 'number', describe: 'ms to keep finished tasks', default: 24 * 3600_000 })
    .check((a) => checkMemberId(a.id) && checkInts(a, { http: [0, 65535], retention: [0, 365 * 86_400_000] })) as unknown as Argv<MasterArgs>;
}

export async function handler(argv: MasterArgs): Promise<ExitCode> {
  const root = createLogger();
  const log = root.child({ masterId: argv.id });
  const session = await ZkSession.open({
    connectString: argv.zk,
    sessionTimeoutMs: argv.sessionTimeout,
    connectTimeoutMs: argv.connectTimeout,
    log,
  });
  const master = new Master({ session, root: argv.root, id: argv.id, sessionTimeoutMs: argv.sessionTimeout, retentionMs: argv.retention, log: root });
  master.on('leading', (epoch) => log.info({ epoch }, `${argv.id} is the leader`));
  let server: Server | undefined;
  try {
    await master.start();
    if (argv.http !== undefined) server = await serveHttp(argv, session, master);
    await onShutdown(async (signal) => {
      log.info({ signal }, 'shutting down');
      server?.close();
      await master.stop();
    });
  } finally {
    await master.stop();
    await session.close();
  }
  log.info('master stopped');
  return EXIT.ok;
}

async function serveHttp(argv: MasterArgs, session: ZkSession, master: Master): Promise<Server> {
  const client = await DroverClient.connect({ session, root: argv.root });
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/healthz') {
      const ok = session.state === 'connected';
      send(ok ? 200 : 503, { zookeeper: session.state, role: master.state });
      return;
    }
    if (req.url === '/status') {
      client.status().then(
        (s) => send(200, { ...s, self: { role: master.state } }),
        (err) => send(503, { error: (err as Error).message }),
      );
      return;
    }
    send(404, { error: 'try /status or /healthz' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(argv.http, '127.0.0.1', () => resolve());
  });
  return server;
}
