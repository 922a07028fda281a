// A wait whose read is in flight when ZooKeeper goes away. It must wait for ZooKeeper to
// come back (reconnectTimeoutMs, 30 s here), not fail when that read's request times out.
//
// Deterministic setting: a server that grants more than the client asks for (minSessionTimeout
// 10 s; a stock ZooKeeper, tickTime 2 s, grants at least 4 s too). The client asks for 2 s: its
// session lives 10 s on the server and in the watchdog, so an outage of 4 s (twice the timeout
// asked for) expires nothing. Before, the read in flight timed out at 2 s (request deadline =
// the timeout asked for), `retrying` gave up at 2 s, and the wait rejected with
// RequestTimeoutError while the session was alive. Now a request lasts as long as the granted
// session may (session.requestTimeoutMs), and a read that fails for want of ZooKeeper leaves
// its waits waiting and is read again once it is back (client/waiters.ts): either alone passes
// this test; without both it fails every time.
//
// The second test is the lost-session case on the suite's server (granted = asked, 2 s): the
// server unreachable (connections refused) for twice the session timeout while the read is
// in flight, the session given up and renewed, and the wait still answered. Before, the
// retried read timed out in a race with the watchdog's declaration of the loss (mostly first).
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import type { Paths } from '../shared/protocol/paths.js';
import { ZkSession, type SessionState } from '../shared/zk/session.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { waitFor } from './harness/wait-for.js';
import { TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';

let server: LocalZkServer;
beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200, extraConfig: { minSessionTimeout: 10_000, maxSessionTimeout: 20_000 } });
});
afterAll(async () => {
  await server?.stop();
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function open(connectString: string, sessionTimeoutMs = TEST_SESSION_MS): Promise<ZkSession> {
  const s = await ZkSession.open({ connectString, sessionTimeoutMs, log: testLog });
  cleanups.push(() => s.close());
  return s;
}

/** A client reaching `target` through a proxy, its session's states recorded, and an admin session going direct. */
async function setUp(target: string) {
  const [host, port] = target.split(':');
  const proxy = await TcpProxy.start(host!, Number(port));
  cleanups.push(() => proxy.stop());
  const admin = await open(target);
  const paths: Paths = await freshLayout(admin);
  const direct = await DroverClient.connect({ session: admin, root: paths.root });
  const session = await open(proxy.connectString);
  const states: SessionState[] = [];
  session.on('state', (s) => states.push(s));
  const client = await DroverClient.connect({ session, root: paths.root, reconnectTimeoutMs: 30_000 });
  cleanups.push(() => client.close());
  return { proxy, session, states, client, direct };
}

/** The wait's answer within `ms`: the task's state, the error's name and message, or 'pending'. */
async function answer(wait: Promise<{ state: string }>, ms: number): Promise<string> {
  const r = wait.then((rec) => rec.state, (err: unknown) => `${(err as Error).name}: ${(err as Error).message}`);
  return Promise.race([r, new Promise<string>((res) => setTimeout(() => res('pending'), ms))]);
}

it('a wait in flight rides out an outage of twice the session timeout asked for, the session living on', async () => {
  const { proxy, session, states, client, direct } = await setUp(server.connectString);
  expect(session.negotiatedTimeoutMs).toBe(10_000);
  const { id } = await direct.submit({ type: 'echo', id: 'in-flight' });
  proxy.cut('blackhole');
  // Sent into the blackhole: the session still says connected.
  expect(session.state).toBe('connected');
  const wait = client.wait(id);
  wait.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 2 * TEST_SESSION_MS));
  // The task finishes during the outage; the client cannot hear of it yet.
  expect((await direct.cancel(id)).cancelled).toBe(true);
  const generation = session.generation;
  proxy.heal();
  expect(await answer(wait, 8000)).toBe('cancelled');
  // The same session all along: nothing expired.
  expect(session.generation).toBe(generation);
  expect(states).not.toContain('expired');
}, 30_000);

it('a wait in flight when the server becomes unreachable for twice the session timeout is answered in the new session', async () => {
  const { proxy, session, states, client, direct } = await setUp(zkConnect().split(',')[0]!);
  expect(session.negotiatedTimeoutMs).toBe(TEST_SESSION_MS);
  const { id } = await direct.submit({ type: 'echo', id: 'refused' });
  proxy.cut('blackhole');
  const wait = client.wait(id);
  wait.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 200));
  // Now refused: the read in flight fails at once, its retry waits in the library's queue.
  proxy.cut('close');
  await new Promise((r) => setTimeout(r, 2 * TEST_SESSION_MS));
  expect(states).toContain('expired');
  expect((await direct.cancel(id)).cancelled).toBe(true);
  const generation = session.generation;
  proxy.heal();
  await waitFor(() => session.generation > generation && session.state === 'connected', { timeoutMs: 4 * TEST_SESSION_MS, message: 'a new session' });
  expect(await answer(wait, 5000)).toBe('cancelled');
}, 30_000);
