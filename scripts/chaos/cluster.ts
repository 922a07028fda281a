// The cluster under test: a 3-server ZooKeeper ensemble on loopback, and masters and workers
// as real `drover` CLI processes, each connected to every server through its own TCP proxies
// (so one process can be cut off alone). Processes are "slots" (m1, w3, ...): a slot keeps its
// name and proxies across restarts. A process that dies without the runner asking (a failpoint,
// a crash, a failed start during an outage) is restarted by itself after a short pause.
// Launching, killing and the pid-file watchdog are in processes.ts; this file is the topology
// (slots, proxies, the ensemble) and what the runner reads from it.
import { writeFileSync } from 'node:fs';
import { DroverClient } from '../../client/drover-client.js';
import { listCandidates } from '../../shared/zk/election.js';
import { ZkSession } from '../../shared/zk/session.js';
import type { MemberInfo } from '../../shared/zk/membership.js';
import { startEnsemble, type ZkEnsemble } from '../../shared/zk-server/launcher.js';
import { TcpProxy, type CutMode } from '../../shared/zk-server/tcp-proxy.js';
import type { Timeline } from './timeline.js';
import { Processes, Slot } from './processes.js';
import { until } from './util.js';

export { Slot } from './processes.js';

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

export class ChaosCluster {
  readonly slots: Slot[] = [];
  /** Ensemble members a fault is working on (overlapping faults leave them alone). */
  readonly zkBusy = new Set<number>();
  private readonly procs: Processes;
  readonly execLog: string;

  private constructor(
    readonly opts: ClusterOptions,
    readonly ensemble: ZkEnsemble,
    /** The runner's own session, straight to the ensemble (no proxy). */
    readonly session: ZkSession,
    readonly client: DroverClient,
  ) {
    this.procs = new Processes(opts, this.slots);
    this.execLog = this.procs.execLog;
  }

  static async start(opts: ClusterOptions): Promise<ChaosCluster> {
    const ensemble = await startEnsemble({ tickTimeMs: opts.tickTimeMs, log: (m) => opts.timeline.note(`zk: ${m}`) });
    let session: ZkSession | undefined;
    try {
      session = await ZkSession.open({ connectString: ensemble.connectString, sessionTimeoutMs: opts.sessionTimeoutMs, connectTimeoutMs: 20_000 });
      const client = await DroverClient.connect({ session, root: opts.root });
      const c = new ChaosCluster(opts, ensemble, session, client);
      writeFileSync(c.execLog, '');
      c.procs.startWatchdog();
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

  // ---- processes (see processes.ts) ----------------------------------------------------------

  /** Starts the slot's process (a new incarnation); `failpoints` arms DROVER_FAILPOINTS. */
  launch(slot: Slot, failpoints?: string): void {
    this.procs.launch(slot, failpoints);
  }
  kill9(slot: Slot): Promise<number | undefined> {
    return this.procs.kill9(slot);
  }
  /** SIGTERM (a drain); SIGKILL if it has not exited after `timeoutMs`. */
  term(slot: Slot, timeoutMs: number): Promise<{ pid?: number; ms: number; forced: boolean }> {
    return this.procs.term(slot, timeoutMs);
  }
  /** The log file of the slot's current (or last) process. */
  logFile(slot: Slot): string {
    return this.procs.logFile(slot);
  }
  /** SIGSTOP / SIGCONT: the process freezes (a long GC pause, a stopped VM) and resumes. */
  pause(slot: Slot): void {
    this.procs.pause(slot);
  }
  resume(slot: Slot): void {
    this.procs.resume(slot);
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
    await this.procs.stopAll();
    for (const s of this.slots) for (const p of s.proxies) await p.stop().catch(() => undefined);
    await this.session.close().catch(() => undefined);
    await this.ensemble.stopAll();
  }
}
