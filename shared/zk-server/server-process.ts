// One ZooKeeper JVM, started from an existing zoo.cfg: the single server's and each ensemble
// member's process (start and wait, stop, kill -9, pause/resume, restart on the same port).
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { LocalInstall } from './find-install.js';
import { fourLetter, srvrMode, type ZkMode } from './four-letter.js';
import { forgetLive, keepLive, spawnJvm, tailFile } from './jvm.js';
import type { LocalZkServer, RestartOptions, WaitFor } from './local-server.js';
import { guardChild } from './orphan-guard.js';
import { waitProcessStopped } from './process-stopped.js';

const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
const STOP_GRACE_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
    const jvm = spawnJvm(
      this.spec.install.java,
      [...this.spec.jvmArgs, '-cp', this.spec.install.classpath, MAIN_CLASS, this.spec.cfgPath],
      this.dir,
      this.logFile,
    );
    const child = jvm.child;
    this.exited = jvm.exited.then(() => {
      if (this.child === child) {
        this.child = null;
        forgetLive(this);
      }
    });
    this.child = child;
    if (child.pid === undefined) {
      await this.exited;
      throw new Error(`${this.spec.name}: could not run ${this.spec.install.java}: ${jvm.spawnError()?.message ?? 'unknown error'}`);
    }
    keepLive(this);
    this.watchdogPid = guardChild(child.pid, this.spec.orphanDir ?? (this.spec.ownsDir ? this.dir : ''));

    const deadline = t0 + timeoutMs;
    for (;;) {
      if (this.child !== child) {
        throw new Error(
          `${this.spec.name}: ZooKeeper exited during start (${jvm.spawnError()?.message ?? jvm.exitInfo()}). Log tail (${this.logFile}):\n${this.logTail()}`,
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
