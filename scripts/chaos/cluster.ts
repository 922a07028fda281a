// The cluster under test: a 3-server ZooKeeper ensemble on loopback, and masters and workers
// as real `drover` CLI processes, each connected to every server through its own TCP proxies
// (so one process can be cut off alone). Processes are "slots" (m1, w3, ...): a slot keeps its
// name and proxies across restarts. A process that dies without the runner asking (a failpoint,
// a crash, a failed start during an outage) is restarted by itself after a short pause.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DroverClient } from '../../client/drover-client.js';
import { listCandidates } from '../../shared/zk/election.js';
import { ZkSession } from '../../shared/zk/session.js';
import type { MemberInfo } from '../../shared/zk/membership.js';
import { startEnsemble, type ZkEnsemble } from '../../shared/zk-server/launcher.js';
import { TcpProxy, type CutMode } from '../../shared/zk-server/tcp-proxy.js';
import type { Timeline } from './timeline.js';
import { repoRoot, sleep, until } from './util.js';

export interface ClusterOptions {
  /** Where process logs, the execution log and the pid file go. */
  dir: string;
  masters: number;
  workers: number;
  /** Each worker's --concurrency. */
  concurrency: number;
  sessionTimeoutMs: number;
  tickTimeMs: number;
  /** Worker --grace (drain) in ms. */
  graceMs: number;
  /** Labels the first worker (w1) alone carries: the tasks that ask for them have one worker. */
  firstWorkerLabels?: Record<string, string>;
  root: string;
  timeline: Timeline;
  say: (line: string) => void;
}

export class Slot {
  child: ChildProcess | null = null;
  incarnation = 0;
  /** Set by the runner before it kills or stops the process itself. */
  expected: 'kill9' | 'sigterm' | null = null;
  exited: Promise<void> = Promise.resolve();
  failpoints?: string;
  /** While held, an exit is not followed by an automatic restart (a fault keeps it down). */
  held = false;

  constructor(
    readonly name: string,
    readonly role: 'master' | 'worker',
    readonly proxies: TcpProxy[],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }
  get running(): boolean {
    return this.child !== null;
  }
  get cut(): boolean {
    return this.proxies.some((p) => p.state !== 'open');
  }
}

export class ChaosCluster {
  readonly slots: Slot[] = [];
  /** Ensemble members a fault is working on (overlapping faults leave them alone). */
  readonly zkBusy = new Set<number>();
  private stopping = false;
  private watchdog?: ChildProcess;
  private readonly pidFile: string;
  readonly execLog: string;
  private readonly bin: string;
  private readonly handlers: string;

  private constructor(
    readonly opts: ClusterOptions,
    readonly ensemble: ZkEnsemble,
    /** The runner's own session, straight to the ensemble (no proxy). */
    readonly session: ZkSession,
    readonly client: DroverClient,
  ) {
    this.pidFile = join(opts.dir, 'pids');
    this.execLog = join(opts.dir, 'executions.jsonl');
    const root = repoRoot();
    this.bin = join(root, 'bin', 'drover.js');
    this.handlers = join(root, 'scripts', 'chaos', 'handlers.mjs');
  }

  static async start(opts: ClusterOptions): Promise<ChaosCluster> {
    const ensemble = await startEnsemble({ tickTimeMs: opts.tickTimeMs, log: (m) => opts.timeline.note(`zk: ${m}`) });
    let session: ZkSession | undefined;
    try {
      session = await ZkSession.open({ connectString: ensemble.connectString, sessionTimeoutMs: opts.sessionTimeoutMs, connectTimeoutMs: 20_000 });
      const client = await DroverClient.connect({ session, root: opts.root });
      const c = new ChaosCluster(opts, ensemble, session, client);
      writeFileSync(c.execLog, '');
      c.startWatchdog();
      const names = [
        ...Array.from({ length: opts.masters }, (_, i) => ({ name: `m${i + 1}`, role: 'master' as const })),
        ...Array.from({ length: opts.workers }, (_, i) => ({ name: `w${i + 1}`, role: 'worker' as const })),
      ];
      for (const { name, role } of names) {
        const proxies = await Promise.all(ensemble.servers.map((s) => TcpProxy.start('127.0.0.1', s.port)));
        c.slots.push(new Slot(name, role, proxies));
      }
      // Masters one by one, so the line of candidates is m1, m2, m3.
      for (const s of c.masters()) {
        c.launch(s);
        await c.waitCandidate(s, 20_000);
      }
      for (const s of c.workers()) c.launch(s);
      for (const s of c.workers()) await c.waitWorkerAlive(s, 20_000);
      return c;
    } catch (err) {
      await session?.close();
      await ensemble.stopAll();
      throw err;
    }
  }

  masters(): Slot[] {
    return this.slots.filter((s) => s.role === 'master');
  }
  workers(): Slot[] {
    return this.slots.filter((s) => s.role === 'worker');
  }
  slot(name: string): Slot {
    const s = this.slots.find((x) => x.name === name);
    if (!s) throw new Error(`no slot ${name}`);
    return s;
  }

  // ---- processes -----------------------------------------------------------------------------

  private labelArgs(slot: Slot): string[] {
    const labels = this.opts.firstWorkerLabels;
    if (!labels || slot !== this.workers()[0]) return [];
    return ['--labels', Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')];
  }

  /** Starts the slot's process (a new incarnation); `failpoints` arms DROVER_FAILPOINTS. */
  launch(slot: Slot, failpoints?: string): void {
    if (slot.running) throw new Error(`${slot.name} is already running (pid ${slot.pid})`);
    slot.incarnation += 1;
    slot.expected = null;
    slot.failpoints = failpoints;
    const o = this.opts;
    const zk = slot.proxies.map((p) => p.connectString).join(',');
    const common = ['--id', slot.name, '--zk', zk, '--root', o.root, '--session-timeout', String(o.sessionTimeoutMs), '--connect-timeout', '20000'];
    const args =
      slot.role === 'master'
        ? ['master', ...common]
        : ['worker', ...common, '--concurrency', String(o.concurrency), '--handlers', this.handlers, '--grace', String(o.graceMs), ...this.labelArgs(slot)];
    const env: NodeJS.ProcessEnv = { ...process.env, DROVER_LOG_LEVEL: 'info', DROVER_EXEC_LOG: this.execLog };
    delete env.DROVER_FAILPOINTS;
    if (failpoints) env.DROVER_FAILPOINTS = failpoints;
    const out = openSync(this.logFile(slot), 'w');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [this.bin, ...args], { cwd: repoRoot(), env, stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    slot.child = child;
    const pid = child.pid!;
    o.timeline.pids.set(pid, { slot: slot.name, role: slot.role, capacity: o.concurrency, startedAt: Date.now(), failpoints });
    o.timeline.note(`start ${slot.name} (pid ${pid}${failpoints ? `, failpoints ${failpoints}` : ''})`);
    this.writePids();
    slot.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (slot.child === child) slot.child = null;
        this.writePids();
        const how = slot.expected ?? (signal === 'SIGKILL' && failpoints ? 'failpoint' : 'exit');
        o.timeline.processEnd({ slot: slot.name, pid, at: Date.now(), how, code, signal });
        if (!slot.expected) {
          o.timeline.note(`${slot.name} (pid ${pid}) ended by itself: ${signal ?? `code ${code}`}${how === 'failpoint' ? ' (failpoint)' : ''}`);
          if (!this.stopping && !slot.held) {
            setTimeout(() => {
              if (!this.stopping && !slot.running && !slot.held) this.launch(slot);
            }, 500).unref();
          }
        }
        resolve();
      });
    });
  }

  async kill9(slot: Slot): Promise<number | undefined> {
    const pid = slot.pid;
    if (!slot.child || pid === undefined) return undefined;
    slot.expected = 'kill9';
    process.kill(pid, 'SIGKILL');
    await slot.exited;
    return pid;
  }

  /** SIGTERM (a drain); SIGKILL if it has not exited after `timeoutMs`. */
  async term(slot: Slot, timeoutMs: number): Promise<{ pid?: number; ms: number; forced: boolean }> {
    const pid = slot.pid;
    const t0 = Date.now();
    if (!slot.child || pid === undefined) return { ms: 0, forced: false };
    slot.expected = 'sigterm';
    process.kill(pid, 'SIGTERM');
    const done = await Promise.race([slot.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done && slot.child) {
      process.kill(pid, 'SIGKILL');
      await slot.exited;
    }
    return { pid, ms: Date.now() - t0, forced: !done };
  }

  /** The log file of the slot's current (or last) process. */
  logFile(slot: Slot): string {
    return join(this.opts.dir, `${slot.name}.${slot.incarnation}.log`);
  }

  /** SIGSTOP / SIGCONT: the process freezes (a long GC pause, a stopped VM) and resumes. */
  pause(slot: Slot): void {
    if (slot.pid !== undefined) process.kill(slot.pid, 'SIGSTOP');
  }
  resume(slot: Slot): void {
    if (slot.pid !== undefined && slot.running) process.kill(slot.pid, 'SIGCONT');
  }

  cut(slot: Slot, mode: CutMode): void {
    for (const p of slot.proxies) p.cut(mode);
  }
  heal(slot: Slot): void {
    for (const p of slot.proxies) p.heal();
  }

  // ---- reading the cluster -------------------------------------------------------------------

  /** The slot whose live process leads now (per ZooKeeper's lowest candidate), or null. */
  async leaderSlot(): Promise<Slot | null> {
    const all = await listCandidates(this.session, this.client.paths.election).catch(() => []);
    const l = all[0];
    // A lowest node whose process has a newer candidacy is left from that process's former
    // session: it blocks the line until it goes, and nobody acts as leader meanwhile.
    if (!l || all.slice(1).some((c) => c.pid === l.pid)) return null;
    return this.slots.find((s) => s.role === 'master' && s.pid === l.pid) ?? null;
  }

  /** Waits for a leader that is a live process of ours (not a dead one whose node lingers). */
  waitLeader(timeoutMs: number): Promise<Slot | null> {
    return until(() => this.leaderSlot(), timeoutMs, 100);
  }

  async waitCandidate(slot: Slot, timeoutMs: number): Promise<boolean> {
    const ok = await until(async () => {
      const pid = slot.pid;
      if (pid === undefined) return false;
      return (await listCandidates(this.session, this.client.paths.election)).some((c) => c.pid === pid);
    }, timeoutMs);
    return ok === true;
  }

  async liveWorkerPids(): Promise<Map<number, MemberInfo>> {
    const out = new Map<number, MemberInfo>();
    const { children } = await this.session.getChildren(this.client.paths.workers);
    await Promise.all(
      children.map(async (name) => {
        try {
          const { data } = await this.session.getData(this.client.paths.member(name));
          const info = JSON.parse(data.toString('utf8')) as MemberInfo;
          out.set(info.pid, info);
        } catch {
          /* gone meanwhile */
        }
      }),
    );
    return out;
  }

  async waitWorkerAlive(slot: Slot, timeoutMs: number): Promise<boolean> {
    const ok = await until(async () => {
      const pid = slot.pid;
      if (pid === undefined) return false;
      return (await this.liveWorkerPids()).get(pid)?.state === 'alive';
    }, timeoutMs);
    return ok === true;
  }

  /** Index of the ensemble's leader server (-1 when none says so). */
  zkLeaderIndex(): Promise<number> {
    return this.ensemble.leaderIndex();
  }

  // ---- settling and stopping -----------------------------------------------------------------

  /** After the faults: every server up, every proxy healed, every slot running (unarmed). */
  async restoreAll(): Promise<void> {
    for (const s of this.slots) {
      this.heal(s);
      this.resume(s);
    }
    await Promise.all(this.ensemble.servers.map((s) => (s.isRunning() ? undefined : s.restart({ wait: true, timeoutMs: 60_000 }))));
    for (const s of this.slots) {
      s.held = false;
      if (s.failpoints && s.running) {
        // An armed process that never reached its failpoint: replace it with a plain one.
        await this.kill9(s);
      }
      if (!s.running) this.launch(s);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const s of this.slots) {
      if (s.child && s.pid !== undefined) {
        s.expected = 'kill9';
        try {
          process.kill(s.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await Promise.all(this.slots.map((s) => s.exited));
    // Nothing left for the watchdog to kill: an empty list, so it can never hit a reused pid.
    writeFileSync(this.pidFile, '');
    this.watchdog?.kill('SIGKILL');
    for (const s of this.slots) for (const p of s.proxies) await p.stop().catch(() => undefined);
    await this.session.close().catch(() => undefined);
    await this.ensemble.stopAll();
  }

  /**
   * If the runner itself dies (SIGKILL, a test worker torn down), a tiny shell kills the
   * drover processes listed in the pid file, the way the ZooKeeper launcher guards its JVMs.
   */
  private startWatchdog(): void {
    this.writePids();
    const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; for p in $(cat "$2" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done';
    const w = spawn('sh', ['-c', script, 'drover-chaos-watchdog', String(process.pid), this.pidFile], { stdio: 'ignore', detached: true });
    w.on('error', () => {});
    w.unref();
    this.watchdog = w;
  }

  private writePids(): void {
    const pids = this.slots.map((s) => s.pid).filter((p): p is number => p !== undefined);
    writeFileSync(this.pidFile, pids.join('\n') + '\n');
  }
}
