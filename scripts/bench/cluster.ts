// One drover cluster under one root, as the bench runs it: masters and workers as separate
// processes (master-entry.js, worker-entry.js), a DroverClient in the bench process to
// submit, and the observer (zk-probe.ts): outcomes are learnt from a persistent recursive
// watch on done/ (one notification per finished task, no request), and, when a figure
// needs them, assignments, candidates and members from a second one (flow()).
import fs from 'node:fs';
import path from 'node:path';
import { DroverClient } from '../../index.js';
import { Paths } from '../../shared/protocol/paths.js';
import type { SubmitInput } from '../../shared/protocol/task-record.js';
import { addCounts, readZkCounters, type ZkCounts } from './counters.js';
import { Child } from './procs.js';
import type { BenchZk } from './server.js';
import { ZkProbe, now, type ProbeEvent } from './zk-probe.js';

export type FlowEvent =
  | { kind: 'assigned' | 'unassigned'; member: string; name: string; t: number }
  | { kind: 'candidate+' | 'candidate-' | 'member+' | 'member-'; name: string; t: number };

export interface ClusterOptions {
  zk: BenchZk;
  root: string;
  sessionTimeoutMs: number;
  logDir: string;
}

export class BenchCluster {
  readonly paths: Paths;
  readonly masters: Child[] = [];
  readonly workers: Child[] = [];
  /** Finished tasks seen (done entries created), and listeners for each: (taskId, t). */
  doneCount = 0;
  private readonly doneListeners = new Set<(id: string, t: number) => void>();
  private readonly flowListeners = new Set<(e: FlowEvent) => void>();
  /** Assignments created and deleted so far (flow() only). */
  assigned = 0;
  unassigned = 0;
  readonly members = new Set<string>();
  private flowProbe?: ZkProbe;
  private readonly changed = new Set<() => void>();

  private constructor(
    readonly o: ClusterOptions,
    readonly client: DroverClient,
    private readonly doneProbe: ZkProbe,
  ) {
    this.paths = new Paths(o.root);
  }

  static async create(o: ClusterOptions): Promise<BenchCluster> {
    fs.mkdirSync(o.logDir, { recursive: true });
    const probe = await ZkProbe.open(o.zk.connectString);
    const client = await DroverClient.connect({ connectString: o.zk.connectString, root: o.root, sessionTimeoutMs: o.sessionTimeoutMs });
    const c = new BenchCluster(o, client, probe);
    const prefix = c.paths.done + '/';
    probe.on((e) => {
      if (e.type !== 'created' || !e.path.startsWith(prefix)) return;
      const rest = e.path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash < 0) return; // a shard directory
      const name = rest.slice(slash + 1);
      const id = name.slice(name.indexOf('-') + 1); // <finishedAt>-<taskId>
      c.doneCount++;
      for (const l of c.doneListeners) l(id, e.t);
      c.poke();
    });
    await probe.watchTree(c.paths.done);
    return c;
  }

  /** Packets the observers sent (the bench takes them out of the server's count). */
  get probePackets(): number {
    return this.doneProbe.packetsSent + (this.flowProbe?.packetsSent ?? 0);
  }

  /** Arms the second observer: assignments, election candidates, members. */
  async flow(): Promise<void> {
    if (this.flowProbe) return;
    const p = await ZkProbe.open(this.o.zk.connectString);
    this.flowProbe = p;
    const { assign, election, workers } = this.paths;
    p.on((e: ProbeEvent) => {
      const ev = this.classify(e, assign, election, workers);
      if (!ev) return;
      if (ev.kind === 'assigned') this.assigned++;
      else if (ev.kind === 'unassigned') this.unassigned++;
      else if (ev.kind === 'member+') this.members.add(ev.name);
      else if (ev.kind === 'member-') this.members.delete(ev.name);
      for (const l of this.flowListeners) l(ev);
      this.poke();
    });
    for (const d of [assign, election, workers]) await p.watchTree(d);
  }

  private classify(e: ProbeEvent, assign: string, election: string, workers: string): FlowEvent | null {
    const under = (dir: string) => (e.path.startsWith(dir + '/') ? e.path.slice(dir.length + 1).split('/') : null);
    const a = under(assign);
    if (a?.length === 2 && (e.type === 'created' || e.type === 'deleted')) {
      return { kind: e.type === 'created' ? 'assigned' : 'unassigned', member: a[0]!, name: a[1]!, t: e.t };
    }
    const c = under(election);
    if (c?.length === 1 && (e.type === 'created' || e.type === 'deleted')) return { kind: e.type === 'created' ? 'candidate+' : 'candidate-', name: c[0]!, t: e.t };
    const w = under(workers);
    if (w?.length === 1 && (e.type === 'created' || e.type === 'deleted')) return { kind: e.type === 'created' ? 'member+' : 'member-', name: w[0]!, t: e.t };
    return null;
  }

  onDone(l: (id: string, t: number) => void): () => void {
    this.doneListeners.add(l);
    return () => this.doneListeners.delete(l);
  }

  onFlow(l: (e: FlowEvent) => void): () => void {
    this.flowListeners.add(l);
    return () => this.flowListeners.delete(l);
  }

  private poke(): void {
    for (const c of [...this.changed]) c();
  }

  /**
   * Resolves with `cond()` once it is truthy: checked on every observed event and every
   * 100 ms (a check of this process's own state, never a request to ZooKeeper). `what`
   * names it in the timeout error (a function: as things stand then).
   */
  until<T>(cond: () => T | undefined | null | false, timeoutMs: number, what: string | (() => string)): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        try {
          this.doneProbe.assertAlive();
          this.flowProbe?.assertAlive();
          const v = cond();
          if (v) finish(null, v);
        } catch (e) {
          finish(e as Error);
        }
      };
      const timer = setTimeout(() => finish(new Error(`bench: ${typeof what === 'string' ? what : what()} did not happen within ${timeoutMs} ms`)), timeoutMs);
      const tick = setInterval(check, 100);
      const finish = (e: Error | null, v?: T) => {
        clearTimeout(timer);
        clearInterval(tick);
        this.changed.delete(check);
        if (e) reject(e);
        else resolve(v!);
      };
      this.changed.add(check);
      check();
    });
  }

  // ---- processes ----
  private spawn(name: string, entry: string, args: Record<string, unknown>): Child {
    return new Child(name, entry, { connectString: this.o.zk.connectString, root: this.o.root, sessionTimeoutMs: this.o.sessionTimeoutMs, ...args }, path.join(this.o.logDir, `${name}.log`));
  }

  /** Starts a master and waits until it leads (`role` 'leading') or follows. */
  async startMaster(id: string, role: 'leading' | 'following', timeoutMs = 30_000): Promise<Child> {
    const m = this.spawn(id, 'master-entry.js', { id });
    this.masters.push(m);
    await m.waitLine((l) => l.ev === 'state' && l.state === role, timeoutMs, `master ${id} ${role}`);
    return m;
  }

  /** The master whose last state line says it leads. */
  leader(): Child | undefined {
    return this.masters.find((m) => m.alive && [...m.lines].reverse().find((l) => l.ev === 'state')?.state === 'leading');
  }

  /** One process running `ids.length` workers of `concurrency` slots each; resolves once all have started. */
  async startWorkers(name: string, ids: string[], concurrency: number, timeoutMs = 60_000): Promise<Child> {
    const w = this.spawn(name, 'worker-entry.js', { ids, concurrency });
    this.workers.push(w);
    await w.waitLine((l) => l.ev === 'up', timeoutMs, `${ids.length} worker(s) up`);
    return w;
  }

  /** The same process, loaded but not started: `go()` starts its workers (SIGUSR1) and resolves once they have. */
  async loadWorkers(name: string, ids: string[], concurrency: number, timeoutMs = 60_000): Promise<{ child: Child; go: () => Promise<void> }> {
    const w = this.spawn(name, 'worker-entry.js', { ids, concurrency, deferred: true });
    this.workers.push(w);
    await w.waitLine((l) => l.ev === 'ready', timeoutMs, `worker process ${name} loaded`);
    return {
      child: w,
      go: async () => {
        w.kill('SIGUSR1');
        await w.waitLine((l) => l.ev === 'up', timeoutMs, `${ids.length} worker(s) up`);
      },
    };
  }

  /** Submits in bulk (submitMany), `chunk` tasks a call. Returns ms taken. */
  async submit(inputs: SubmitInput[], chunk = 5000): Promise<number> {
    const t0 = now();
    for (let i = 0; i < inputs.length; i += chunk) await this.client.submitMany(inputs.slice(i, i + chunk));
    return now() - t0;
  }

  /** Every process's zkCounters (the bench's own included) summed; null when any lacks them. */
  async counters(): Promise<ZkCounts | null> {
    const all = await Promise.all([...this.masters, ...this.workers].filter((c) => c.alive).map((c) => c.counters()));
    const mine = readZkCounters();
    if (!mine || all.some((c) => !c)) return null;
    return all.reduce<ZkCounts>((s, c) => addCounts(s, c!), mine);
  }

  /** Kills every process of the cluster (SIGKILL, by pid) and closes the observers and client. */
  async stop(): Promise<void> {
    await Promise.all([...this.masters, ...this.workers].map((c) => c.kill9()));
    await this.client.close().catch(() => undefined);
    await this.doneProbe.close();
    await this.flowProbe?.close();
  }
}
