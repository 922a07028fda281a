// What the dashboard shows of the cluster, kept current from ZooKeeper by any master (leader
// or follower alike): the masters (a tree watch on election/), the workers (a tree watch on
// workers/, the membership observer), and every `intervalMs` ONE multiRead of the stats of
// the queue/ and done/ shard directories (numChildren: queue depth, finished count; always,
// for the ring), and, only while a page is connected (`wantLoads`), of each live worker's
// assign/ directory (its load), packed so a request's paths stay within LOAD_REQUEST_BYTES.
// Cost: a member or master joining/leaving/changing is O(1) reads; a tick is one request for
// the shards (client/shard-listing.ts childCounts) plus, with a page open, ⌈bytes of the M
// assign/ paths / 512 KiB⌉ (1 for any realistic M); nothing here is per task.
import { EventEmitter } from 'node:events';
import { childCounts } from '../../client/shard-listing.js';
import type { Logger } from '../../shared/log.js';
import type { Paths } from '../../shared/protocol/paths.js';
import { candidateSeq, type CandidateInfo } from '../../shared/zk/election.js';
import { TreeMembershipObserver } from '../../shared/zk/membership-observer.js';
import { MembershipObserver, type MemberInfo } from '../../shared/zk/membership.js';
import { packBySize } from '../../shared/util/pack.js';
import type { SessionState, ZkSession } from '../../shared/zk/session.js';
import type { Master } from '../master.js';

export interface Sample {
  at: number;
  queued: number;
  /** Entries of the finished index (retention removes old ones). */
  done: number;
}

export interface MasterView extends CandidateInfo {
  name: string;
  epoch: number;
  leader: boolean;
  self: boolean;
}

export interface WorkerView extends MemberInfo {
  name: string;
  /** Assignments it holds (numChildren of its assign/ directory at the last tick); null before one. */
  load: number | null;
}

export interface LeaderView extends MasterView {
  /** When it began to lead; `sinceExact` false: its candidacy's start, before which it cannot have led. */
  since: number;
  sinceExact: boolean;
}

export interface ClusterViewOptions {
  session: ZkSession;
  paths: Paths;
  master: Master;
  log: Logger;
  intervalMs?: number;
  ringMs?: number;
  /** Whether workers' loads are worth reading now (a page is connected); default always. */
  wantLoads?: () => boolean;
}

/** A load read's request is packed by path bytes to at most this (its reply: ~80 bytes a path). */
export const LOAD_REQUEST_BYTES = 512 * 1024;
/** Per path in a multiRead request beside the path itself: op header and length fields. */
const PATH_OVERHEAD_BYTES = 16;

function parseCandidate(name: string, data: Buffer): CandidateInfo & { epoch: number } {
  let info: Partial<CandidateInfo> = {};
  try {
    info = JSON.parse(data.toString('utf8')) as CandidateInfo;
  } catch {
    /* shown with what the name tells */
  }
  if (info === null || typeof info !== 'object') info = {};
  return { id: String(info.id ?? name), host: String(info.host ?? '?'), pid: Number(info.pid ?? 0), since: Number(info.since ?? 0), epoch: candidateSeq(name) };
}

export class ClusterView extends EventEmitter<{ change: []; sample: [Sample] }> {
  readonly intervalMs: number;
  private readonly ringSize: number;
  private readonly ring: Sample[] = [];
  private readonly workers: MembershipObserver;
  private readonly masters: TreeMembershipObserver<CandidateInfo & { epoch: number }>;
  private readonly loads = new Map<string, number>();
  /** Whether `loads` was read at the last tick (not while no page wanted it). */
  private loadsRead = false;
  /** Since when the session is not connected (null while it is): a stale view says so. */
  private downSince: number | null = null;
  /** When the session left `connected`, until the masters view is whole again: a leave seen
   *  in between comes from a reset's full read, not a live delete. Null otherwise. */
  private mastersResetFrom: number | null = null;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private stopped = false;
  /** The leader as last seen, and since when it leads. */
  private seen?: { name: string; since: number; exact: boolean; needCtime: boolean };
  private selfLeadingSince?: number;
  private readonly onMasterState = (s: string) => {
    if (s === 'leading') this.selfLeadingSince = Date.now();
  };
  private readonly onChange = () => {
    this.trackLeader();
    this.emit('change');
  };
  private readonly onMastersWhole = () => {
    this.mastersResetFrom = null;
  };
  private readonly onSessionState = (s: SessionState) => {
    if (s === 'connected') this.downSince = null;
    else {
      this.downSince ??= Date.now();
      this.mastersResetFrom ??= this.downSince;
    }
    this.emit('change');
  };

  constructor(private readonly opts: ClusterViewOptions) {
    super();
    this.intervalMs = opts.intervalMs ?? 2000;
    this.ringSize = Math.ceil((opts.ringMs ?? 600_000) / this.intervalMs);
    this.workers = new MembershipObserver(opts.session, opts.paths, opts.log);
    this.masters = new TreeMembershipObserver(opts.session, opts.paths.election, parseCandidate, opts.log);
  }

  async start(): Promise<void> {
    this.opts.master.on('state', this.onMasterState);
    for (const o of [this.workers, this.masters] as const) {
      for (const e of ['join', 'leave', 'update', 'change'] as const) o.on(e, this.onChange);
    }
    this.masters.on('change', this.onMastersWhole); // after onChange: the last leave is seen first
    this.opts.session.on('state', this.onSessionState);
    await Promise.all([this.workers.start(), this.masters.start()]);
    this.trackLeader();
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.opts.master.off('state', this.onMasterState);
    this.opts.session.off('state', this.onSessionState);
    this.workers.stop();
    this.masters.stop();
  }

  /** The dashboard session's state, and since when it is not connected (null while it is). */
  zookeeper(): { state: SessionState; downSince: number | null } {
    return { state: this.opts.session.state, downSince: this.downSince };
  }

  samples(): readonly Sample[] {
    return this.ring;
  }

  /**
   * Finished tasks per second over the last `windowMs`, from the finished index's growth
   * between samples. Retention's purges and bulk retries remove done entries too: a tick where
   * they removed more than finished counts as 0, not as negative (so it is a lower bound:
   * that tick's finishes are hidden). Exact would need a finish counter in ZooKeeper, which
   * every commit would pay for; a lower bound that is right except around purges and bulk
   * retries is enough for a gauge.
   */
  throughput(windowMs = 60_000): number {
    const last = this.ring[this.ring.length - 1];
    if (!last) return 0;
    let grown = 0;
    let from = last.at;
    for (let i = this.ring.length - 1; i > 0 && last.at - this.ring[i - 1]!.at <= windowMs; i--) {
      grown += Math.max(0, this.ring[i]!.done - this.ring[i - 1]!.done);
      from = this.ring[i - 1]!.at;
    }
    return from < last.at ? grown / ((last.at - from) / 1000) : 0;
  }

  masterList(): MasterView[] {
    const own = this.opts.master.candidatePath;
    const ownName = own ? own.slice(own.lastIndexOf('/') + 1) : null;
    const sorted = this.masters.members().filter((m) => !Number.isNaN(m.epoch)).sort((a, b) => a.epoch - b.epoch);
    return sorted.map((m, i) => ({ ...m, leader: i === 0, self: m.name === ownName }));
  }

  leader(): LeaderView | null {
    const first = this.masterList()[0];
    if (!first || !this.seen || this.seen.name !== first.name) return first ? { ...first, since: first.since, sinceExact: false } : null;
    return { ...first, since: this.seen.since, sinceExact: this.seen.exact };
  }

  /** Workers sorted by name, one page of them, and how many there are by state. */
  workerPage(offset: number, limit: number): { workers: WorkerView[]; total: number; byState: Record<string, number> } {
    const all = this.workers.members();
    const byState: Record<string, number> = { init: 0, alive: 0, draining: 0 };
    for (const w of all) byState[w.state] = (byState[w.state] ?? 0) + 1;
    all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const workers = all.slice(offset, offset + limit).map((w) => ({ ...w, load: this.loadsRead ? (this.loads.get(w.name) ?? null) : null }));
    return { workers, total: all.length, byState };
  }

  /** Assignments held by live workers at the last tick; null when loads were not read. */
  inProgress(): number | null {
    if (!this.loadsRead) return null;
    let n = 0;
    for (const v of this.loads.values()) n += v;
    return n;
  }

  private trackLeader(): void {
    const first = this.masterList()[0];
    if (!first) return void (this.seen = undefined);
    if (this.seen?.name === first.name) return;
    if (first.self && this.selfLeadingSince !== undefined) this.seen = { name: first.name, since: this.selfLeadingSince, exact: true, needCtime: false };
    // Seen taking over (the leader we knew left, a live delete): it leads from now, to the
    // watch's delay. A leave found by a reset's full read happened at some time while we
    // were away: it leads since then at the earliest. A lower candidate appearing while ours
    // stays is no take-over (a new candidate always lines up last): the view was being filled in.
    else if (this.seen && !this.masters.get(this.seen.name)) {
      this.seen = this.mastersResetFrom !== null
        ? { name: first.name, since: Math.max(first.since, this.mastersResetFrom), exact: false, needCtime: false }
        : { name: first.name, since: Date.now(), exact: true, needCtime: false };
    }
    // Leading before we looked: no znode says since when; its candidacy's creation bounds it.
    else this.seen = { name: first.name, since: first.since, exact: false, needCtime: true };
  }

  private async tick(): Promise<void> {
    const { session, paths } = this.opts;
    if (this.ticking || this.stopped || session.state !== 'connected') return;
    this.ticking = true;
    try {
      const shards = paths.shardNames;
      const counts = await childCounts(session, [...shards.map((s) => paths.queueShard(s)), ...shards.map((s) => paths.doneShard(s))]);
      const sum = (from: number, to: number) => counts.slice(from, to).reduce((a, b) => a + b, 0);
      const sample: Sample = { at: Date.now(), queued: sum(0, shards.length), done: sum(shards.length, 2 * shards.length) };
      // Loads (only while a page looks) and the leader's candidacy ctime (once): stats packed
      // by path bytes, so no request nears 1 MB whatever the member ids and the root.
      const seen = this.seen?.needCtime ? this.seen : undefined;
      const members = this.opts.wantLoads?.() === false ? null : this.workers.members().map((w) => w.name);
      const extra = [...(members ?? []).map((m) => paths.assignDir(m)), ...(seen ? [`${paths.election}/${seen.name}`] : [])];
      const got: Awaited<ReturnType<ZkSession['getDataMany']>> = [];
      for (const g of packBySize(extra, (p) => Buffer.byteLength(p) + PATH_OVERHEAD_BYTES, LOAD_REQUEST_BYTES, Number.MAX_SAFE_INTEGER)) {
        got.push(...(await session.getDataMany(g, { maxPerRequest: g.length })));
      }
      this.loads.clear();
      this.loadsRead = members !== null;
      members?.forEach((m, i) => {
        const r = got[i]!;
        this.loads.set(m, r.ok ? r.stat.numChildren : 0);
      });
      const c = seen ? got[extra.length - 1] : undefined;
      if (seen && c?.ok && this.seen === seen) Object.assign(seen, { since: c.stat.ctime, needCtime: false });
      this.ring.push(sample);
      if (this.ring.length > this.ringSize) this.ring.shift();
      this.emit('sample', sample);
    } catch (err) {
      this.opts.log.debug({ err: (err as Error).message }, 'dashboard sample failed; the next tick tries again');
    } finally {
      this.ticking = false;
    }
  }
}
