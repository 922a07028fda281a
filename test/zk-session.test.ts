// The session wrapper against real servers: typed errors from real replies, the version-0
// fix, a frozen server, connection loss and expiry through a real TCP proxy.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadVersionError,
  ConnectionLossError,
  NoNodeError,
  NodeExistsError,
  NotEmptyError,
  RequestTimeoutError,
  SessionExpiredError,
} from '../shared/zk/errors.js';
import { ZkSession } from '../shared/zk/session.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, testLog, uniqueRoot, waitForState, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await pool.closeAll();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxied(sessionTimeoutMs = 1200, requestTimeoutMs?: number) {
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const proxy = await TcpProxy.start(host!, Number(port));
  cleanups.push(() => proxy.stop());
  const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs, requestTimeoutMs, log: testLog });
  cleanups.push(() => session.close());
  return { proxy, session };
}

describe('typed errors from real server replies', () => {
  it('no node, node exists, bad version, not empty', async () => {
    const s = await pool.open();
    const root = uniqueRoot('err');
    await s.mkdirp(`${root}/child`);
    await expect(s.getData(`${root}/missing`)).rejects.toBeInstanceOf(NoNodeError);
    await expect(s.create(`${root}/child`)).rejects.toBeInstanceOf(NodeExistsError);
    await expect(s.setData(`${root}/child`, Buffer.from('x'), 7)).rejects.toBeInstanceOf(BadVersionError);
    await expect(s.remove(root)).rejects.toBeInstanceOf(NotEmptyError);
    const err = await s.getData(`${root}/missing`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NO_NODE', path: `${root}/missing`, op: 'getData' });
  });

  it('a refused multi names the operation the server refused and changes nothing', async () => {
    const s = await pool.open();
    const root = uniqueRoot('multi');
    await s.mkdirp(root);
    const err = (await s
      .multi([
        { op: 'create', path: `${root}/a` },
        { op: 'create', path: `${root}/a` },
      ])
      .catch((e: unknown) => e)) as NodeExistsError;
    expect(err).toBeInstanceOf(NodeExistsError);
    expect(err.opIndex).toBe(1);
    expect(await s.exists(`${root}/a`)).toBeNull();
  });

  it('check(path, 0) fails on a node at version 1 (the client bug is patched) and passes at version 0', async () => {
    const s = await pool.open();
    const root = uniqueRoot('v0');
    await s.mkdirp(root);
    await s.create(`${root}/n`, Buffer.from('a'));
    await s.multi([{ op: 'check', path: `${root}/n`, version: 0 }]);
    await s.setData(`${root}/n`, Buffer.from('b'));
    const err = (await s.multi([{ op: 'check', path: `${root}/n`, version: 0 }]).catch((e: unknown) => e)) as BadVersionError;
    expect(err).toBeInstanceOf(BadVersionError);
    expect(err.opIndex).toBe(0);
    // setData and remove with version 0 in a multi are conditional too.
    await expect(s.multi([{ op: 'setData', path: `${root}/n`, data: Buffer.from('c'), version: 0 }])).rejects.toBeInstanceOf(BadVersionError);
    await expect(s.multi([{ op: 'remove', path: `${root}/n`, version: 0 }])).rejects.toBeInstanceOf(BadVersionError);
  });

  it('connection loss: a cut connection fails the call with ConnectionLossError while the session lives', async () => {
    const { proxy, session } = await proxied(4000, 20_000);
    await session.mkdirp(uniqueRoot('cl'));
    proxy.cut('close');
    const err = await session.getChildren('/').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionLossError);
    expect(err).not.toBeInstanceOf(SessionExpiredError);
    proxy.heal();
    await waitForState(session, 'connected');
    expect((await session.getChildren('/')).children.length).toBeGreaterThan(0);
  });
});

describe('a frozen server (SIGSTOP)', () => {
  let server: LocalZkServer | undefined;
  afterEach(async () => {
    if (server) {
      server.resume();
      await server.stop();
      server = undefined;
    }
  });

  it('turns a request into a timely error, not a hang, and the session recovers after SIGCONT', async () => {
    server = await startLocalServer({ tickTimeMs: 200 });
    const s = await ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: 3000, requestTimeoutMs: 1500, log: testLog });
    cleanups.push(() => s.close());
    await s.create('/frozen', Buffer.from('x'));
    await server.pause();
    const t0 = Date.now();
    const err = await s.getData('/frozen').catch((e: unknown) => e);
    const took = Date.now() - t0;
    expect(err).toBeInstanceOf(ConnectionLossError); // RequestTimeoutError, or the watchdog's drop
    expect(took).toBeLessThan(5000);
    // The watchdog notices the silence and reports the connection down.
    await waitForState(s, 'disconnected', 5000);
    server.resume();
    await waitFor(async () => (await s.getData('/frozen')).data.toString() === 'x', { timeoutMs: 10_000, message: 'reads work after SIGCONT' });
  });

  it('an open() that timed out against a frozen server does not crash the process when the server wakes up', async () => {
    // The library, closed while connecting, later read the server's connect reply as a normal
    // reply, threw "Unknown code" from its socket handler, and the process died (chaos run).
    server = await startLocalServer({ tickTimeMs: 200 });
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      await server.pause();
      await expect(ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: 2000, connectTimeoutMs: 500, log: testLog })).rejects.toBeInstanceOf(
        ConnectionLossError,
      );
      server.resume();
      await new Promise((r) => setTimeout(r, 1500));
      expect(uncaught.map((e) => (e as Error).message)).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a request to a frozen server is a RequestTimeoutError when its deadline is the shorter', async () => {
    server = await startLocalServer({ tickTimeMs: 200 });
    const s = await ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: 4000, requestTimeoutMs: 300, log: testLog });
    cleanups.push(() => s.close());
    await server.pause();
    await expect(s.exists('/')).rejects.toBeInstanceOf(RequestTimeoutError);
  });
});

describe('watches', () => {
  // The library's own registry: how many listeners wait on a path's child watch.
  const childListeners = (session: ZkSession, path: string): number => {
    const wm = (session as unknown as { client: { connectionManager: { watcherManager: { childWatchers: Record<string, { listeners(e: string): unknown[] }> } } } })
      .client.connectionManager.watcherManager;
    return wm.childWatchers[path]?.listeners('notification').length ?? 0;
  };

  it('re-reading a quiet path with the same watcher arms one watch, not one per read', async () => {
    const session = await pool.open();
    const root = uniqueRoot('watch');
    await session.mkdirp(root);
    const fired: string[] = [];
    const watcher = (e: { type: string }) => fired.push(e.type);
    for (let i = 0; i < 20; i++) await session.getChildren(root, watcher);
    expect(childListeners(session, root)).toBe(1);
    await session.create(`${root}/x`);
    await waitFor(() => fired.length > 0, { message: 'child watch fired' });
    expect(fired).toEqual(['children']);
  });
});

describe('session expiry', () => {
  it('fails pending and new calls fast, opens a new session, and the old ephemerals are gone', async () => {
    const { proxy, session } = await proxied(1200, 30_000);
    const observer = await pool.open();
    const root = uniqueRoot('exp');
    await session.mkdirp(root);
    await session.create(`${root}/eph`, Buffer.alloc(0), 'ephemeral');
    const firstId = session.sessionId;
    const expired = new Promise<void>((r) => session.once('expired', () => r()));
    const renewed = new Promise<string>((r) => session.once('session', (id) => r(id)));

    proxy.cut('blackhole');
    // Silence: the watchdog drops the connection (calls in flight then fail with connection loss).
    await waitForState(session, 'disconnected', 5000);
    // Queued while disconnected: the library would hold it forever; only the wrapper fails it.
    const pending = session.getData(`${root}/eph`).catch((e: unknown) => e);
    await expired;
    expect(await pending).toBeInstanceOf(SessionExpiredError);
    // New calls fail fast while no new session can be opened.
    const t0 = Date.now();
    await expect(session.exists(root)).rejects.toBeInstanceOf(SessionExpiredError);
    expect(Date.now() - t0).toBeLessThan(100);
    // The server expires the old session: its ephemeral goes.
    await waitFor(async () => (await observer.exists(`${root}/eph`)) === null, { timeoutMs: 10_000, message: 'old ephemeral deleted' });

    proxy.heal();
    const newId = await renewed;
    expect(newId).not.toBe(firstId);
    expect(session.generation).toBe(1);
    expect(session.state).toBe('connected');
    expect(await session.exists(root)).not.toBeNull();
  });

  it('follows the timeout the server granted, not the one asked for', async () => {
    // The suite's server (tickTime 200 ms) grants at most 20 ticks = 4 s. Asked for 20 s, a
    // session cut off must be given up near 4 s, as the server expires it, not near 20 s.
    const { proxy, session } = await proxied(20_000, 60_000);
    expect(session.negotiatedTimeoutMs).toBe(4000);
    const t0 = Date.now();
    proxy.cut('blackhole');
    await waitForState(session, 'expired', 15_000);
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(4000 + 1500);
    expect(ms).toBeGreaterThan(2000);
  });

  it('retrying() does not carry a call into the session that replaced its own', async () => {
    const { proxy, session } = await proxied(1200, 30_000);
    const root = uniqueRoot('retry-gen');
    await session.mkdirp(root);
    let calls = 0;
    // The first try loses its reply, and by the time it returns the session has been
    // replaced (a real expiry through the proxy): the retry must not run in the new one.
    const result = await session
      .retrying(async () => {
        calls += 1;
        if (calls === 1) {
          const renewed = new Promise<void>((r) => session.once('session', () => r()));
          proxy.cut('blackhole');
          await waitForState(session, 'expired', 10_000);
          proxy.heal();
          await renewed;
          throw new ConnectionLossError('CONNECTION_LOSS', 'reply lost');
        }
        return session.create(`${root}/eph`, Buffer.alloc(0), 'ephemeral');
      }, 60_000)
      .catch((e: unknown) => e);
    expect(result).toBeInstanceOf(SessionExpiredError);
    expect(calls).toBe(1);
    expect(await session.exists(`${root}/eph`)).toBeNull();
  });

  it('close() deletes ephemerals at once and later calls fail with SessionClosedError', async () => {
    const s = await pool.open();
    const observer = await pool.open();
    const root = uniqueRoot('close');
    await s.mkdirp(root);
    await s.create(`${root}/eph`, Buffer.alloc(0), 'ephemeral');
    await s.close();
    expect(await observer.exists(`${root}/eph`)).toBeNull();
    await expect(s.exists('/')).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
  });

  it('a server that accepts a connection and never answers it (one starting up) does not hold a connect for ever', async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    cleanups.push(() => proxy.stop());
    proxy.cut('unready');
    const opening = ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 1500, connectTimeoutMs: 10_000, log: testLog });
    await waitFor(() => proxy.connections > 0, { message: 'a connection held unanswered' });
    // Ready now, for new connections; the held one is never answered (the library had no
    // deadline for a connect reply and waited on it until open() gave up).
    proxy.heal();
    const t0 = Date.now();
    const s = await opening;
    cleanups.push(() => s.close());
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(await s.exists('/')).not.toBeNull();
  });

  it('open() fails with a clear error when nothing answers', async () => {
    const t0 = Date.now();
    const err = await ZkSession.open({ connectString: '127.0.0.1:1', sessionTimeoutMs: 1000, connectTimeoutMs: 800, log: testLog }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionLossError);
    expect((err as Error).message).toContain('cannot reach ZooKeeper at 127.0.0.1:1');
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('an event loop blocked by the process (not a silent server)', () => {
  /** A session whose log lines are kept, and the states it went through. */
  async function observed(sessionTimeoutMs: number) {
    const lines: Array<{ msg: string; reason?: string }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
    const session = await ZkSession.open({ connectString: zkConnect(), sessionTimeoutMs, log });
    cleanups.push(() => session.close());
    const states: string[] = [];
    session.on('state', (st) => states.push(st));
    expect(session.negotiatedTimeoutMs).toBe(sessionTimeoutMs);
    return { session, lines, states };
  }
  const blockFor = (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      /* a handler that never yields */
    }
  };

  it('a stall shorter than the session timeout is named as one, and the connection and session live on', async () => {
    // Granted 4 s: the silent-server rule would drop the connection after 2.7 s of silence.
    const { session, lines, states } = await observed(4000);
    await session.exists('/');
    blockFor(3200);
    // Asked at once: the first tick after the stall comes before its reply.
    expect(await session.exists('/')).not.toBeNull();
    expect(lines.map((l) => l.msg).filter((m) => /server silent/.test(m))).toEqual([]);
    expect(lines.map((l) => l.msg).filter((m) => /^event loop blocked for \d+ ms: this process was stalled, not the ZooKeeper server$/.test(m))).toHaveLength(1);
    expect(states).toEqual([]);
    expect(session.generation).toBe(0);
  });

  it('a stall longer than the session timeout is named as one, and the session is then given up and renewed', async () => {
    const { session, lines } = await observed(2000);
    await session.exists('/');
    const renewed = new Promise<void>((r) => session.once('session', () => r()));
    blockFor(3000);
    await renewed;
    const msgs = lines.map((l) => l.msg);
    expect(msgs.filter((m) => /server silent/.test(m))).toEqual([]);
    expect(msgs.filter((m) => /^event loop blocked for \d+ ms: .*the session has likely expired/.test(m))).toHaveLength(1);
    const expiry = lines.find((l) => l.msg === 'zookeeper session expired' && l.reason);
    expect(expiry?.reason).toMatch(/server reported the session expired|this process was stalled for \d+ ms/);
    expect(await session.exists('/')).not.toBeNull();
  });
});
