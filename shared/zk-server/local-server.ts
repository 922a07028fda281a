// A standalone ZooKeeper for tests, the demo and the benchmark: the public shape of a server
// (LocalZkServer), its options, and startLocalServer. The JVM process behind it (start, stop,
// faults) is ZkServerProcess (server-process.ts), shared with the ensemble; spawning JVMs and
// killing those left at exit is jvm.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZooKeeperNotFoundError } from './errors.js';
import { findLocalInstall, type LocalInstall } from './find-install.js';
import type { ZkMode } from './four-letter.js';
import { freePort } from './free-port.js';
import { ZkServerProcess } from './server-process.js';
import { jvmArgsFor, type ZkSizeName, type ZkSizing } from './sizing.js';
import { zooCfg } from './zoo-cfg.js';

export { ZkServerProcess, type ServerProcessSpec } from './server-process.js';
export { tailFile } from './jvm.js';

type Env = Record<string, string | undefined>;

/**
 * What a restart (or the first start) waits for:
 * - 'serving' (wait: true, the default): `srvr` reports a `Mode:` line. For an ensemble
 *   member that means it has joined a quorum (leader or follower); a member that cannot
 *   reach a quorum never gets there.
 * - 'answering' (wait: false): the JVM is up and its client port answers `srvr` at all,
 *   even with "This ZooKeeper instance is not currently serving requests" (what a member
 *   without a quorum says). Use it to restart a member while the quorum is lost.
 */
export type WaitFor = 'serving' | 'answering';

export interface RestartOptions {
  /** true (default): wait until serving; false: only until the process answers on its port. */
  wait?: boolean;
  timeoutMs?: number;
}

export interface LocalZkServer {
  /** `127.0.0.1:port` of this server alone. */
  readonly connectString: string;
  readonly port: number;
  /** pid of the current JVM (changes on restart). */
  readonly pid: number;
  readonly dataDir: string;
  /** Temp dir holding zoo.cfg and the server's log. */
  readonly dir: string;
  /** The JVM's stdout+stderr, appended across restarts. */
  readonly logFile: string;
  isRunning(): boolean;
  /** SIGTERM (then SIGKILL after a deadline), waits for exit, removes the temp dir it owns. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** SIGKILL, waits for exit; keeps files so restart() can follow. */
  kill9(): Promise<void>;
  /** SIGSTOP, resolved once every thread has stopped: TCP connects still succeed (kernel) but nothing answers. */
  pause(): Promise<void>;
  /** SIGCONT. */
  resume(): void;
  /** Starts again on the same port and data dir (stops the running JVM first, keeping data). */
  restart(opts?: RestartOptions): Promise<void>;
  /** From `srvr`; null when not answering or not serving. */
  mode(timeoutMs?: number): Promise<ZkMode | null>;
  /** Last lines of the server log. */
  logTail(lines?: number): string;
}

export interface StartLocalServerOptions {
  /** ZooKeeper tick; min session timeout = 2×, max = 20×. Default 200 ms. */
  tickTimeMs?: number;
  /** Client port on 127.0.0.1; default a free one. */
  port?: number;
  /** Default: `data/` inside the temp dir. A given dir is not removed by stop(). */
  dataDir?: string;
  log?: (m: string) => void;
  /** Default: findLocalInstall(env). */
  install?: LocalInstall;
  env?: Env;
  /** Deadline for the server to answer. Default 20 s. */
  startTimeoutMs?: number;
  /** Extra zoo.cfg lines, e.g. { maxSessionTimeout: 30000 }. */
  extraConfig?: Record<string, string | number | boolean>;
  /** Heap and collector (sizing.ts): a name ('test', 'bench', 'million') or explicit. Default 'test'. */
  sizing?: ZkSizing | ZkSizeName;
  /** Replaces the JVM flags (and so `sizing`). */
  jvmArgs?: string[];
}

// The test size (256 MB, serial GC): a test server needs little, and the machine has 2
// cores. Other sizes, and why: sizing.ts.
export const DEFAULT_JVM_ARGS = jvmArgsFor('test');

export function makeTempDir(kind: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `drover-zk-${kind}`));
}

/** Resolves the install or throws ZooKeeperNotFoundError. */
export function requireInstall(opts: { install?: LocalInstall; env?: Env }): LocalInstall {
  const install = opts.install ?? findLocalInstall(opts.env ?? process.env);
  if (!install) throw new ZooKeeperNotFoundError('no local install (DROVER_ZK_JAR, ZOOKEEPER_HOME, /usr/share/java/zookeeper.jar) with java');
  return install;
}

/**
 * Starts a standalone ZooKeeper as a child JVM on 127.0.0.1, with its own zoo.cfg in a
 * fresh temp dir, and resolves once `srvr` says it is serving.
 */
export async function startLocalServer(opts: StartLocalServerOptions = {}): Promise<LocalZkServer> {
  const install = requireInstall(opts);
  const log = opts.log ?? (() => {});
  // A free port can be taken between our probe and the JVM's bind: retry on a new one.
  const attempts = opts.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const dir = makeTempDir('');
    const dataDir = opts.dataDir ?? path.join(dir, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    const port = opts.port ?? (await freePort());
    const cfgPath = path.join(dir, 'zoo.cfg');
    fs.writeFileSync(
      cfgPath,
      zooCfg({ tickTimeMs: opts.tickTimeMs ?? 200, dataDir, clientPort: port, extra: opts.extraConfig }),
    );
    const server = new ZkServerProcess({
      install,
      cfgPath,
      dir,
      dataDir,
      port,
      ownsDir: true,
      log,
      jvmArgs: opts.jvmArgs ?? (opts.sizing ? jvmArgsFor(opts.sizing) : DEFAULT_JVM_ARGS),
      name: `zk:${port}`,
    });
    try {
      await server.launch('serving', opts.startTimeoutMs);
      return server;
    } catch (e) {
      lastError = e;
      await server.stop();
      log(String(e));
    }
  }
  throw lastError;
}
