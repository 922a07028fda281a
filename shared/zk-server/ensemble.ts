import fs from 'node:fs';
import path from 'node:path';
import type { LocalInstall } from './find-install.js';
import { freePorts } from './free-port.js';
import { DEFAULT_JVM_ARGS, makeTempDir, requireInstall, ZkServerProcess, type LocalZkServer } from './local-server.js';
import { jvmArgsFor, type ZkSizeName, type ZkSizing } from './sizing.js';
import { zooCfg } from './zoo-cfg.js';

type Env = Record<string, string | undefined>;

export interface StartEnsembleOptions {
  /** Number of servers; default 3. */
  size?: number;
  /** Default 200 ms. */
  tickTimeMs?: number;
  log?: (m: string) => void;
  install?: LocalInstall;
  env?: Env;
  /** Deadline for the whole ensemble to serve with one leader. Default 30 s. */
  startTimeoutMs?: number;
  extraConfig?: Record<string, string | number | boolean>;
  /** Heap and collector of each member (sizing.ts). Default 'test'. */
  sizing?: ZkSizing | ZkSizeName;
  /** Replaces the JVM flags (and so `sizing`). */
  jvmArgs?: string[];
}

export interface ZkEnsemble {
  /** Every member's 127.0.0.1:port, comma-separated. */
  readonly connectString: string;
  /**
   * The members. Kill/pause/restart one through its own methods; its stop() keeps its
   * files (the ensemble owns the temp dir) so restart() still works after it.
   * A member's restart() waits until it serves, i.e. has joined a quorum; when a quorum
   * cannot form (e.g. 2 of 3 down) use restart({ wait: false }), which waits only until
   * the JVM answers on its client port ("not currently serving requests").
   */
  readonly servers: LocalZkServer[];
  /** Index in `servers` of the member whose srvr says leader; -1 if none answers so. */
  leaderIndex(): Promise<number>;
  /** Stops every member and removes the ensemble's temp dir. */
  stopAll(): Promise<void>;
  /** Same as stopAll() (the name a single server has too). */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts an ensemble (default 3 servers) on loopback ports and resolves once every
 * member serves and exactly one is leader.
 */
export async function startEnsemble(opts: StartEnsembleOptions = {}): Promise<ZkEnsemble> {
  const install = requireInstall(opts);
  // A port can be taken between choosing it and the JVMs binding it (seconds on a loaded
  // machine): start again on new ports, as startLocalServer does.
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startEnsembleOnce({ ...opts, install });
    } catch (e) {
      lastError = e;
      (opts.log ?? (() => {}))(`ensemble start ${attempt}/3 failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
    }
  }
  throw lastError;
}

async function startEnsembleOnce(opts: StartEnsembleOptions & { install: LocalInstall }): Promise<ZkEnsemble> {
  const install = opts.install;
  const size = opts.size ?? 3;
  const log = opts.log ?? (() => {});
  const tickTimeMs = opts.tickTimeMs ?? 200;
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const root = makeTempDir('ensemble-');
  const ports = await freePorts(size * 3);
  const members = Array.from({ length: size }, (_, i) => ({
    id: i + 1,
    clientPort: ports[i * 3]!,
    quorumPort: ports[i * 3 + 1]!,
    electionPort: ports[i * 3 + 2]!,
  }));
  const servers = members.map((m) => {
    const dir = path.join(root, `s${m.id}`);
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'myid'), `${m.id}\n`);
    const cfgPath = path.join(dir, 'zoo.cfg');
    fs.writeFileSync(
      cfgPath,
      zooCfg({ tickTimeMs, dataDir, clientPort: m.clientPort, servers: members, extra: opts.extraConfig }),
    );
    return new ZkServerProcess({
      install,
      cfgPath,
      dir,
      dataDir,
      port: m.clientPort,
      ownsDir: false,
      orphanDir: root, // every member's watchdog may remove the whole ensemble once we are gone
      log,
      jvmArgs: opts.jvmArgs ?? (opts.sizing ? jvmArgsFor(opts.sizing) : DEFAULT_JVM_ARGS),
      name: `zk${m.id}:${m.clientPort}`,
    });
  });

  const leaderIndex = async (): Promise<number> => {
    const modes = await Promise.all(servers.map((s) => s.mode()));
    return modes.indexOf('leader');
  };
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    fs.rmSync(root, { recursive: true, force: true });
  };

  try {
    const t0 = Date.now();
    // All at once: a member only serves once a quorum has formed, so waiting for
    // 'serving' one by one would deadlock on the first.
    await Promise.all(servers.map((s) => s.launch('serving', timeoutMs)));
    for (;;) {
      const modes = await Promise.all(servers.map((s) => s.mode()));
      const leaders = modes.filter((m) => m === 'leader').length;
      if (leaders === 1 && modes.every((m) => m === 'leader' || m === 'follower')) break;
      if (Date.now() - t0 > timeoutMs) throw new Error(`ensemble did not settle on one leader: modes ${modes.join(',')}`);
      await sleep(50);
    }
    log(`ensemble of ${size} serving in ${Date.now() - t0} ms (${servers.map((s) => s.connectString).join(',')})`);
  } catch (e) {
    const tails = servers.map((s) => `--- ${s.connectString} ---\n${s.logTail(15)}`).join('\n');
    await stopAll();
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${tails}`);
  }

  return {
    connectString: servers.map((s) => s.connectString).join(','),
    servers,
    leaderIndex,
    stopAll,
    stop: stopAll,
  };
}
