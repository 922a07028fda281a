import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZooKeeperNotFoundError } from './errors.js';
import { findLocalInstall, type LocalInstall } from './find-install.js';
import { waitProcessStopped } from './process-stopped.js';
import { guardChild } from './orphan-guard.js';
import { fourLetter, srvrMode, type ZkMode } from './four-letter.js';
import { freePort } from './free-port.js';
import { zooCfg } from './zoo-cfg.js';

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
  /** Replaces the default JVM flags. */
  jvmArgs?: string[];
}

// Small heap and serial GC: a test server needs little, and the machine has 2 cores.
// C1-only JIT (-XX:TieredStopAtLevel=1) was measured here: start ≈ 290 vs ≈ 320 ms, within
// noise, so it is left out rather than slow the server in benchmarks.
// -XX:-UsePerfData: no /tmp/hsperfdata files.
export const DEFAULT_JVM_ARGS = [
  '-Xms32m',
  '-Xmx256m',
  '-XX:+UseSerialGC',
  '-XX:-UsePerfData',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.net.preferIPv4Stack=true',
  '-Dorg.slf4j.simpleLogger.showDateTime=true',
  '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
];

const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
const STOP_GRACE_MS = 5000;

// Every JVM we started and not yet saw exit: killed if this process exits without cleanup.
const live = new Set<ZkServerProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.killSync();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function tailFile(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

export interface ServerProcessSpec {
  install: LocalInstall;
  cfgPath: string;
  dir: string;
  dataDir: string;
  port: number;
  /** Remove `dir` on stop() (false for ensemble members: the ensemble owns the root). */
  ownsDir: boolean;
  /** What the watchdog deletes if this process dies without stopping us. Default: `dir` when owned. */
  orphanDir?: string;
  log: (m: string) => void;
  jvmArgs: string[];
  name: string;
}

/** One ZooKeeper JVM, started from an existing zoo.cfg. Used by the single server and the ensemble. */
export class ZkServerProcess implements LocalZkServer {
  readonly connectString: string;
  readonly port: number;
  readonly dataDir: string;
  readonly dir: string;
  readonly logFile: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private watchdogPid: number | undefined;
  private removed = false;

  constructor(private readonly spec: ServerProcessSpec) {
    this.port = spec.port;
    this.connectString = `127.0.0.1:${spec.port}`;
    this.dataDir = spec.dataDir;
    this.dir = spec.dir;
    this.logFile = path.join(spec.dir, 'zookeeper.log');
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  isRunning(): boolean {
    return this.child !== null;
  }

  /** Spawns the JVM and waits as asked. On failure the JVM is left for stop() to clean. */
  async launch(waitFor: WaitFor, timeoutMs = 20_000): Promise<void> {
    if (this.removed) throw new Error(`${this.spec.name}: already stopped and removed`);
    if (this.child) throw new Error(`${this.spec.name}: already running (pid ${this.pid})`);
    const t0 = Date.now();
    // Log to a file, not a pipe: a pipe nobody reads would block the JVM once full.
    const fd = fs.openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(
        this.spec.install.java,
        [...this.spec.jvmArgs, '-cp', this.spec.install.classpath, MAIN_CLASS, this.spec.cfgPath],
        { cwd: this.dir, stdio: ['ignore', fd, fd], detached: false },
      );
    } finally {
      fs.closeSync(fd);
    }
    let spawnError: Error | undefined;
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (e) => {
        spawnError = e;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `code ${code}`;
        resolve();
      });
    }).then(() => {
      if (this.child === child) {
        this.child = null;
        live.delete(this);
      }
    });
    this.child = child;
    if (child.pid === undefined) {
      await this.exited;
      throw new Error(`${this.spec.name}: could not run ${this.spec.install.java}: ${spawnError?.message ?? 'unknown error'}`);
    }
    live.add(this);
    installExitHook();
    this.watchdogPid = guardChild(child.pid, this.spec.orphanDir ?? (this.spec.ownsDir ? this.dir : ''));

    const deadline = t0 + timeoutMs;
    for (;;) {
      if (this.child !== child) {
        throw new Error(
          `${this.spec.name}: ZooKeeper exited during start (${spawnError?.message ?? exitInfo}). Log tail (${this.logFile}):\n${this.logTail()}`,
        );
      }
      const answered =
        waitFor === 'serving'
          ? (await srvrMode('127.0.0.1', this.port, 1000)) !== null
          : (await fourLetter('127.0.0.1', this.port, 'srvr', 1000)) !== null;
      if (answered) {
        // The port may be held by another run's server, which answers before ours is up
        // (ours then dies of a bind error): only our own data directory counts.
        const conf = await fourLetter('127.0.0.1', this.port, 'conf', 1000);
        // A server not serving yet may not say (conf needs a running server): take it then.
        const dataDir = /^dataDir=(.*)$/m.exec(conf ?? '')?.[1];
        if (dataDir !== undefined && !path.resolve(dataDir).startsWith(path.resolve(this.spec.dataDir))) {
          throw new Error(`${this.spec.name}: another ZooKeeper (data ${dataDir}) answers on 127.0.0.1:${this.port}`);
        }
        break;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${this.spec.name}: ZooKeeper on 127.0.0.1:${this.port} not ${waitFor} after ${timeoutMs} ms (pid ${child.pid}). Log tail (${this.logFile}):\n${this.logTail()}`,
        );
      }
      await sleep(50);
    }
    this.spec.log(`${this.spec.name}: pid ${child.pid} ${waitFor} on 127.0.0.1:${this.port} in ${Date.now() - t0} ms`);
  }

  private signal(sig: NodeJS.Signals): boolean {
    const pid = this.child?.pid;
    if (pid === undefined) return false;
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  private killWatchdog(): void {
    if (this.watchdogPid === undefined) return;
    try {
      process.kill(this.watchdogPid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    this.watchdogPid = undefined;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited. */
  private async terminate(): Promise<void> {
    if (!this.child) return;
    this.signal('SIGTERM');
    this.signal('SIGCONT'); // a paused JVM cannot act on SIGTERM until continued
    const timer = setTimeout(() => this.signal('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
    this.killWatchdog();
  }

  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    const pid = this.pid;
    await this.terminate();
    if (this.spec.ownsDir && !opts.keepData && !this.removed) {
      this.removed = true;
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
    if (pid > 0) this.spec.log(`${this.spec.name}: stopped pid ${pid}`);
  }

  async kill9(): Promise<void> {
    if (!this.child) return;
    const pid = this.pid;
    this.signal('SIGKILL');
    await this.exited;
    this.killWatchdog();
    this.spec.log(`${this.spec.name}: killed pid ${pid}`);
  }

  async pause(): Promise<void> {
    if (!this.signal('SIGSTOP')) throw new Error(`${this.spec.name}: not running`);
    await waitProcessStopped(this.pid);
  }

  resume(): void {
    if (!this.signal('SIGCONT')) throw new Error(`${this.spec.name}: not running`);
  }

  async restart(opts: RestartOptions = {}): Promise<void> {
    await this.terminate();
    await this.launch(opts.wait === false ? 'answering' : 'serving', opts.timeoutMs);
  }

  mode(timeoutMs = 1000): Promise<ZkMode | null> {
    return srvrMode('127.0.0.1', this.port, timeoutMs);
  }

  logTail(lines = 40): string {
    return tailFile(this.logFile, lines);
  }

  /** For the process 'exit' hook: synchronous, best effort. */
  killSync(): void {
    this.signal('SIGKILL');
    this.killWatchdog();
    if (this.spec.ownsDir && !this.removed) {
      try {
        fs.rmSync(this.dir, { recursive: true, force: true });
      } catch {
        /* best effort at exit */
      }
    }
  }
}

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
      jvmArgs: opts.jvmArgs ?? DEFAULT_JVM_ARGS,
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
