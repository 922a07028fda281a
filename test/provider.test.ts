import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  fourLetter,
  provideZooKeeper,
  srvrMode,
  startEnsemble,
  startLocalServer,
  ZooKeeperNotFoundError,
  type LocalZkServer,
  type ZkEnsemble,
} from '../shared/zk-server/launcher.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { waitFor } from './harness/wait-for.js';

const log = (m: string): void => console.log(`[zk] ${m}`);

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

// Everything a test starts is registered here and stopped after it, pass or fail.
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('suite ZooKeeper (global setup)', () => {
  it('is provided and answers srvr', async () => {
    const [host, port] = inject('zkConnect').split(',')[0]!.split(':');
    expect(await srvrMode(host!, Number(port), 2000)).not.toBeNull();
  });
});

describe('local server', () => {
  it('starts, answers srvr, and stop() kills it by pid and removes its temp dir', async () => {
    const t0 = Date.now();
    const zk = await startLocalServer({ tickTimeMs: 200, log });
    cleanups.push(() => zk.stop());
    log(`local server start (fresh data dir -> serving): ${Date.now() - t0} ms`);
    expect(zk.connectString).toBe(`127.0.0.1:${zk.port}`);
    expect(zk.pid).toBeGreaterThan(0);
    expect(await zk.mode()).toBe('standalone');
    const srvr = await fourLetter('127.0.0.1', zk.port, 'srvr');
    expect(srvr).toMatch(/Zookeeper version: 3\./);
    expect(fs.existsSync(zk.dataDir)).toBe(true);

    const pid = zk.pid;
    await zk.stop();
    expect(processGone(pid)).toBe(true);
    expect(zk.isRunning()).toBe(false);
    expect(fs.existsSync(zk.dir)).toBe(false);
    expect(await zk.mode(500)).toBeNull();
  });

  it('pause() freezes it (srvr times out) and resume() brings it back', async () => {
    const zk = await startLocalServer({ tickTimeMs: 200 });
    cleanups.push(() => zk.stop());
    await zk.pause();
    // TCP connect still succeeds (the kernel answers), but srvr gets no reply.
    expect(await fourLetter('127.0.0.1', zk.port, 'srvr', 700)).toBeNull();
    zk.resume();
    await waitFor(() => zk.mode(), { timeoutMs: 5000, message: 'server did not answer after resume' });
    expect(await zk.mode()).toBe('standalone');
  });

  it("does not take another run's server on its port for its own", async () => {
    const a = await startLocalServer({ tickTimeMs: 200 });
    cleanups.push(() => a.stop());
    const err = await startLocalServer({ tickTimeMs: 200, port: a.port, startTimeoutMs: 20_000 }).then(
      (b) => (cleanups.push(() => b.stop()), null),
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/another ZooKeeper \(data .*\) answers on 127\.0\.0\.1:/);
    expect(await a.mode()).toBe('standalone');
  });

  it('kill9() then restart() serves again on the same port with the same data dir', async () => {
    const zk = await startLocalServer({ tickTimeMs: 200 });
    cleanups.push(() => zk.stop());
    const oldPid = zk.pid;
    await zk.kill9();
    expect(processGone(oldPid)).toBe(true);
    expect(await zk.mode(500)).toBeNull();
    await zk.restart();
    expect(zk.pid).not.toBe(oldPid);
    expect(await zk.mode()).toBe('standalone');
    expect(fs.existsSync(zk.dataDir)).toBe(true);
  });
});

describe('orphaned servers', () => {
  it('a process killed outright takes its ZooKeeper JVMs and their temp dirs with it', async () => {
    // A real parent process (built code) starts a server and an ensemble, then is SIGKILLed:
    // no exit hook runs, so only the watchdogs can clean up.
    const launcher = new URL('../dist/shared/zk-server/launcher.js', import.meta.url).href;
    const script = `
      const L = await import(${JSON.stringify(launcher)});
      const one = await L.startLocalServer({ tickTimeMs: 200 });
      const ens = await L.startEnsemble({ tickTimeMs: 200 });
      const servers = [one, ...ens.servers];
      console.log(JSON.stringify({ pids: servers.map((s) => s.pid), dirs: [one.dir, path.dirname(ens.servers[0].dir)] }));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import path from 'node:path';${script}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(async () => void child.kill('SIGKILL'));
    const first = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.once('exit', (code) => reject(new Error(`launcher process exited (${code}) before reporting`)));
    });
    const { pids, dirs } = JSON.parse(first) as { pids: number[]; dirs: string[] };
    expect(pids).toHaveLength(4);
    expect(dirs.every((d) => fs.existsSync(d))).toBe(true);
    child.kill('SIGKILL');
    await waitFor(() => pids.every(processGone), { timeoutMs: 10_000, message: 'every JVM gone' });
    await waitFor(() => dirs.every((d) => !fs.existsSync(d)), { timeoutMs: 10_000, message: 'temp dirs removed' });
  }, 90_000);
});

describe('provideZooKeeper', () => {
  it('fails loudly with instructions when no ZooKeeper can be had', async () => {
    const env = { PATH: process.env.PATH, DROVER_ZK_LOCAL: 'none', DROVER_ZK_DOCKER: 'none' };
    const err = await provideZooKeeper({ env }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ZooKeeperNotFoundError);
    const message = (err as Error).message;
    expect(message).toContain('apt-get install -y zookeeper');
    expect(message).toContain('DROVER_ZK=');
    expect(message).toContain('ZOOKEEPER_HOME');
    expect(message).toMatch(/Java 11\+/);
  });

  it('uses DROVER_ZK as given, starting nothing', async () => {
    const zk = await provideZooKeeper({ env: { DROVER_ZK: '127.0.0.1:2999', DROVER_ZK_DOCKER: 'none' } });
    expect(zk.kind).toBe('env');
    expect(zk.connectString).toBe('127.0.0.1:2999');
    expect(zk.server).toBeUndefined();
    await zk.stop();
  });

  it('starts a local server when Docker is off and a local install exists', async () => {
    const zk = await provideZooKeeper({ env: { ...process.env, DROVER_ZK: '', DROVER_ZK_DOCKER: 'none' } });
    cleanups.push(() => zk.stop());
    expect(zk.kind).toBe('local');
    const server = zk.server as LocalZkServer;
    expect(await server.mode()).toBe('standalone');
    const pid = server.pid;
    expect(pid).toBeGreaterThan(0);
    await zk.stop();
    expect(processGone(pid)).toBe(true);
  });
});

describe('scripts/bootstrap.mjs (what npm test, demo and chaos run first)', () => {
  // Runs the real script with the local install hidden by configuration (DROVER_ZK_LOCAL=none
  // also forbids the apt-get route); node_modules is present, so it reaches the ZooKeeper step.
  const bootstrap = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, ['scripts/bootstrap.mjs', ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DROVER_ZK_LOCAL: 'none', DROVER_ZK_DOCKER: 'none', ...env },
    });

  it('stops with what to install when no ZooKeeper can be had', () => {
    const r = bootstrap([], {});
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no ZooKeeper found');
    expect(r.stderr).toContain('apt-get install -y zookeeper');
    expect(r.stderr).toContain('DROVER_ZK=host:port');
  });

  it('with --local, refuses a DROVER_ZK alone: the fault tests start servers of their own', () => {
    const r = bootstrap(['--local'], { DROVER_ZK: '127.0.0.1:2999' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('need a local install');
    expect(r.stderr).toContain('ZOOKEEPER_HOME');
  });
});

describe('3-server ensemble', () => {
  it('elects one leader, re-elects after the leader is killed, and takes it back on restart', async () => {
    let t0 = Date.now();
    const ens: ZkEnsemble = await startEnsemble({ tickTimeMs: 200, log });
    cleanups.push(() => ens.stopAll());
    log(`ensemble start (3 fresh servers -> serving, one leader): ${Date.now() - t0} ms`);
    expect(ens.connectString.split(',')).toEqual(ens.servers.map((s) => s.connectString));
    const modes = await Promise.all(ens.servers.map((s) => s.mode()));
    expect(modes.filter((m) => m === 'leader')).toHaveLength(1);
    expect(modes.filter((m) => m === 'follower')).toHaveLength(2);

    const oldLeader = await ens.leaderIndex();
    expect(oldLeader).toBeGreaterThanOrEqual(0);
    const leaderPid = ens.servers[oldLeader]!.pid;
    t0 = Date.now();
    await ens.servers[oldLeader]!.kill9();
    expect(processGone(leaderPid)).toBe(true);
    const newLeader = await waitFor(
      async () => {
        const i = await ens.leaderIndex();
        return i >= 0 && i !== oldLeader ? i + 1 : 0; // +1: index 0 is falsy
      },
      { timeoutMs: 20_000, intervalMs: 25, message: 'no new leader after killing the leader' },
    ).then((i) => i - 1);
    log(`new leader after kill -9 of the leader: ${Date.now() - t0} ms`);
    expect(newLeader).not.toBe(oldLeader);

    t0 = Date.now();
    await ens.servers[oldLeader]!.restart();
    log(`killed leader restarted and serving again: ${Date.now() - t0} ms`);
    expect(await ens.servers[oldLeader]!.mode()).toBe('follower');
    expect(await ens.leaderIndex()).toBe(newLeader);
  });

  it('loses quorum with 2 of 3 down; restart({ wait: false }) brings a member up without quorum', async () => {
    const ens = await startEnsemble({ tickTimeMs: 200 });
    cleanups.push(() => ens.stopAll());
    const [a, b, c] = ens.servers as [LocalZkServer, LocalZkServer, LocalZkServer];
    await a.kill9();
    await b.kill9();
    // The survivor alone is no quorum: it answers srvr but does not serve.
    await waitFor(async () => (await c.mode()) === null, { timeoutMs: 10_000, message: 'survivor still serving' });
    expect(await fourLetter('127.0.0.1', c.port, 'srvr')).toMatch(/not currently serving/);

    await a.restart({ wait: false }); // returns once a's JVM answers on its port
    await waitFor(async () => (await a.mode()) !== null && (await c.mode()) !== null, {
      timeoutMs: 20_000,
      message: 'quorum of 2 did not re-form',
    });
    await b.restart(); // quorum exists now: waits until b serves
    expect(await b.mode()).toMatch(/^(leader|follower)$/);
  });
});

describe('TcpProxy', () => {
  async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    return {
      port: (srv.address() as net.AddressInfo).port,
      close: () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          srv.close(() => r());
        }),
    };
  }

  /** Connects through the proxy, sends `msg`, resolves with the echo or null on close/timeout. */
  function roundTrip(port: number, msg: string, timeoutMs = 1000): Promise<string | null> {
    return new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let buf = '';
      const done = (v: string | null): void => {
        clearTimeout(t);
        s.destroy();
        resolve(v);
      };
      const t = setTimeout(() => done(null), timeoutMs);
      s.on('connect', () => s.write(msg));
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.length >= msg.length) done(buf);
      });
      s.on('close', () => done(null));
      s.on('error', () => done(null));
    });
  }

  it('passes bytes, breaks them on cut("close"), restores them on heal()', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const proxy = await TcpProxy.start('127.0.0.1', echo.port);
    cleanups.push(() => proxy.stop());
    expect(proxy.connectString).toBe(`127.0.0.1:${proxy.port}`);
    expect(await roundTrip(proxy.port, 'hello')).toBe('hello');

    // An open connection is cut as well as new ones.
    const held = net.connect(proxy.port, '127.0.0.1');
    held.on('error', () => {});
    const heldClosed = new Promise<void>((r) => held.on('close', () => r()));
    await new Promise<void>((r) => held.on('connect', () => r()));
    await waitFor(() => proxy.connections === 1, { timeoutMs: 2000, message: 'proxy did not see the connection' });
    proxy.cut('close');
    await heldClosed;
    expect(await roundTrip(proxy.port, 'lost')).toBeNull();

    proxy.heal();
    expect(await roundTrip(proxy.port, 'back')).toBe('back');
  });

  it('blackhole keeps sockets open but silent; heal() drops them so clients reconnect', async () => {
    const echo = await echoServer();
    cleanups.push(() => echo.close());
    const proxy = await TcpProxy.start('127.0.0.1', echo.port);
    cleanups.push(() => proxy.stop());
    proxy.cut('blackhole');

    const s = net.connect(proxy.port, '127.0.0.1');
    s.on('error', () => {});
    let received = '';
    s.on('data', (d) => (received += d.toString()));
    const closed = new Promise<void>((r) => s.on('close', () => r()));
    await new Promise<void>((r) => s.on('connect', () => r()));
    s.write('into the void');
    await waitFor(() => proxy.connections === 1, { timeoutMs: 2000 });
    // Silence: give the bytes time to come back if they were going to (bounded wait).
    expect(await roundTrip(proxy.port, 'x', 500)).toBeNull();
    expect(received).toBe('');
    expect(s.destroyed).toBe(false);

    proxy.heal();
    await closed;
    expect(await roundTrip(proxy.port, 'after')).toBe('after');
  });

  it('carries a real ZooKeeper conversation (srvr) and cuts it', async () => {
    const [host, port] = inject('zkConnect').split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    cleanups.push(() => proxy.stop());
    expect(await srvrMode('127.0.0.1', proxy.port)).not.toBeNull();
    proxy.cut('blackhole');
    expect(await srvrMode('127.0.0.1', proxy.port, 500)).toBeNull();
    proxy.heal();
    expect(await srvrMode('127.0.0.1', proxy.port)).not.toBeNull();
  });
});
