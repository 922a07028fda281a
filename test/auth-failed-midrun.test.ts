// AUTH_FAILED mid-run: a master and a worker whose ZooKeeper connection moves to a server lacking
// their auth scheme (server A has the `ensemble` provider, B does not; a proxy of this file's own
// switches from A to B) see their session expire, the new one refused: they exit 1 with the one
// line, not stay up on a closed session. Servers of this file's own.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalServer, DEFAULT_JVM_ARGS, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { ProcessPool } from './harness/processes.js';
import { runCli } from './harness/cli-run.js';
import { TEST_SESSION_MS, uniqueRoot } from './harness/zk.js';

const ENSEMBLE = '-Dzookeeper.authProvider.1=org.apache.zookeeper.server.auth.EnsembleAuthenticationProvider';
let a: LocalZkServer;
let b: LocalZkServer;
let proxy: Server;
let target = 0;
const sockets = new Set<Socket>();
const procs = new ProcessPool();
const env = { DROVER_ZK_AUTH: 'ensemble:drover', DROVER_ZK_AUTH_FILE: undefined } as unknown as NodeJS.ProcessEnv;

beforeAll(async () => {
  [a, b] = await Promise.all([startLocalServer({ tickTimeMs: 200, jvmArgs: [...DEFAULT_JVM_ARGS, ENSEMBLE] }), startLocalServer({ tickTimeMs: 200 })]);
  target = a.port;
  proxy = createServer((client) => {
    const up = connect(target, '127.0.0.1');
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(up).pipe(client);
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await procs.killAll();
  for (const s of sockets) s.destroy();
  await new Promise((r) => proxy?.close(r));
  await Promise.all([a?.stop(), b?.stop()]);
});

describe('AUTH_FAILED mid-run', () => {
  it('a master and a worker exit 1 with the line once a reconnect meets a server without their scheme', async () => {
    const port = (proxy.address() as { port: number }).port;
    const root = uniqueRoot('authfail');
    const common = ['--zk', `127.0.0.1:${port}`, '--root', root, '--session-timeout', String(TEST_SESSION_MS)];
    // An open root (the `ensemble` identity is no creator a `creator all` ACL could name).
    const init = await runCli(['init', '--zk', a.connectString, '--root', root], { env: { DROVER_ZK_AUTH: undefined } as unknown as NodeJS.ProcessEnv });
    expect(init.code, init.stderr).toBe(0);
    const m = procs.spawn('m1', ['master', '--id', 'm1', ...common], env);
    const w = procs.spawn('w1', ['worker', '--id', 'w1', ...common], env);
    await m.waitForLine((l) => l.msg === 'elected leader', 15_000, 'leader');
    await w.waitForLine((l) => l.msg === 'worker alive', 15_000, 'worker alive');

    target = b.port;
    for (const s of sockets) s.destroy();
    const t0 = Date.now();
    const [mc, wc] = await Promise.all([m.waitExit(20_000), w.waitExit(20_000)]);
    expect([mc, wc]).toEqual([1, 1]);
    expect(Date.now() - t0).toBeLessThan(20_000);
    for (const p of [m, w]) expect(p.text.join('\n')).toMatch(/drover: ZooKeeper refused the credentials of ensemble \(AUTH_FAILED/);
  });
});
