// What the leading master does while it leads: rebuild the picture from ZooKeeper alone,
// reconcile, then keep it current with watches and assign, reclaim and purge.
//
// Every write here is one multi whose first op checks the leader's own election znode (the
// fence), so once this master is deposed (its session gone) nothing it sends can change
// anything. Nothing is kept only in memory: the picture (members, loads, queue, deadlines)
// can be thrown away at any instant and rebuilt by the next leader from the znodes.
import { EventEmitter } from 'node:events';
import type { Logger } from '../shared/log.js';
import { Paths, type QueueEntry } from '../shared/protocol/paths.js';
import {
  assignOps,
  failMalformedOps,
  opsBytes,
  purgeOps,
  reclaimOps,
  rejectOps,
  type AssignmentData,
  type VersionedRecord,
} from '../shared/protocol/task-ops.js';
import { malformedStandIn, type TaskError, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import type { LeaderHandle } from '../shared/zk/election.js';
import { ConnectionLossError, NoNodeError, NotEmptyError, SessionClosedError, SessionExpiredError, ZkError } from '../shared/zk/errors.js';
import { MembershipObserver } from '../shared/zk/membership.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import type { Op, ZkSession } from '../shared/zk/session.js';
import { Coalescer } from '../shared/util/coalescer.js';
import { failpoint } from '../shared/util/failpoints.js';
import { planAssignments, freeSlots, labelsMatch, type Placement, type PolicyWorker } from './assignment-policy.js';
import { QueueIndex } from './queue-index.js';

export interface LeadershipOptions {
  /** Finished tasks are deleted this long after they finish. */
  retentionMs: number;
  /** Extra time past a task's timeout before the leader takes it back (the worker times out first). */
  timeoutGraceMs: number;
  /** Most tasks in one assignment multi. */
  assignBatch: number;
  /** How often retention runs. */
  retentionIntervalMs: number;
}

export class DeposedError extends Error {
  override name = 'DeposedError';
}

interface Held {
  member: string;
  taskId: string;
  attempt: number;
  deadline: number | null;
}

/** Multis stay far below jute.maxbuffer (1 MiB): the server drops the connection near it. */
const MAX_MULTI_BYTES = 400 * 1024;
/** Records one round may read, and queue entries it may look at, looking for placeable tasks. */
const ROUND_READ_BUDGET = 2000;
const ROUND_SCAN_BUDGET = 20_000;

interface ReadyTask {
  entry: QueueEntry;
  cur: VersionedRecord;
  id: string;
  labels: Record<string, string>;
}

export interface LeadershipEvents {
  /** Tasks placed in one multi. */
  assigned: [count: number];
  reclaimed: [taskId: string, reason: string];
  /** The fence refused a write: we no longer lead. */
  deposed: [reason: string];
}

export class Leadership extends EventEmitter<LeadershipEvents> {
  private readonly log: Logger;
  private readonly observer: MembershipObserver;
  private readonly queue: QueueIndex;
  /** member → assignment name → what it holds. Mirrors assign/<member>/. */
  private readonly held = new Map<string, Map<string, Held>>();
  /** Member directories whose watch fired: re-read. */
  private readonly dirtyMembers = new Set<string>();
  private readonly dirWatchers: StableWatchers;
  private readonly rounds: Coalescer;
  private stopped = false;
  /** Rounds wait for start()'s rebuild: a round racing it could count a member's load from a stale listing. */
  private ready = false;
  private dueTimer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private retentionTimer?: NodeJS.Timeout;
  private purging?: Promise<number>;
  private readonly onSessionState = (s: string) => {
    if (s === 'connected') this.kick();
  };

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly handle: LeaderHandle,
    private readonly opts: LeadershipOptions,
    log: Logger,
  ) {
    super();
    this.log = log.child({ component: 'leader', epoch: handle.epoch });
    // The observer and the queue index take the caller's logger: pino would repeat `component`.
    this.observer = new MembershipObserver(session, paths, log);
    this.dirWatchers = new StableWatchers(session);
    this.queue = new QueueIndex(session, paths, () => this.kick());
    this.rounds = new Coalescer(
      () => this.round(),
      (err) => this.onRoundError(err),
    );
  }

  private fence(): Op {
    return this.handle.fence();
  }

  // ---- lifecycle -------------------------------------------------------------------------

  async start(): Promise<void> {
    const t0 = Date.now();
    this.observer.on('join', (m) => {
      this.dirtyMembers.add(m.name);
      this.kick();
    });
    this.observer.on('update', () => this.kick());
    this.observer.on('leave', (name) => {
      this.dirtyMembers.add(name);
      this.kick();
    });
    await this.observer.start();
    await this.reconcile();
    await this.queue.refresh();
    this.session.on('state', this.onSessionState);
    this.log.info(
      { ms: Date.now() - t0, workers: this.observer.members().length, queued: this.queue.size, held: this.heldCount() },
      'leader picture rebuilt from ZooKeeper',
    );
    this.retentionTimer = setInterval(() => {
      // One purge at a time: two would refuse each other's batches.
      if (this.purging) return;
      this.purging = this.purgeFinished()
        .catch((e) => {
          this.onRoundError(e);
          return 0;
        })
        .finally(() => (this.purging = undefined));
    }, this.opts.retentionIntervalMs);
    this.retentionTimer.unref();
    this.ready = true;
    this.kick();
  }

  /** Drops the picture; writes in flight are fenced anyway. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.observer.stop();
    this.session.off('state', this.onSessionState);
    clearTimeout(this.dueTimer);
    clearTimeout(this.deadlineTimer);
    clearInterval(this.retentionTimer);
    await this.rounds.settled();
  }

  kick(): void {
    if (!this.stopped) this.rounds.kick();
  }

  private heldCount(): number {
    let n = 0;
    for (const m of this.held.values()) n += m.size;
    return n;
  }

  private onRoundError(err: unknown): void {
    if (this.stopped) return;
    if (err instanceof DeposedError) {
      this.log.warn({ reason: err.message }, 'fence refused a write: no longer leader');
      this.emit('deposed', err.message);
      return;
    }
    if (err instanceof SessionExpiredError || err instanceof SessionClosedError) return; // election reports it
    this.log.warn({ err: (err as Error).message }, 'leader round failed; retrying');
    // Outcome unknown: re-read everything we might have changed.
    this.queue.invalidateAll();
    for (const m of this.held.keys()) this.dirtyMembers.add(m);
    setTimeout(() => this.kick(), 250).unref();
  }

  /** Runs a fenced multi; a refused fence becomes DeposedError. */
  private async fenced(ops: Op[]): Promise<void> {
    try {
      await this.session.multi(ops);
    } catch (err) {
      if (err instanceof ZkError && err.opIndex === 0) throw new DeposedError(`election node ${this.handle.path} is gone`);
      throw err;
    }
  }

  // ---- recovery --------------------------------------------------------------------------

  /**
   * The picture from ZooKeeper alone: every assignment directory is read; those of members
   * that are gone are reclaimed; assignments that disagree with their record are removed.
   */
  private async reconcile(): Promise<void> {
    const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.assign));
    for (const member of children) this.dirtyMembers.add(member);
    await this.refreshMembers(true);
  }

  private isLive(member: string): boolean {
    return this.observer.get(member) !== undefined;
  }

  /** Re-reads dirty member directories; reclaims what dead members held. */
  private async refreshMembers(verify = false): Promise<void> {
    const members = [...this.dirtyMembers];
    this.dirtyMembers.clear();
    // All settle before any error surfaces: a read still running after the round ended could
    // overwrite a newer count of that member's load.
    const results = await Promise.allSettled(members.map((m) => this.refreshMember(m, verify)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async refreshMember(member: string, verify: boolean): Promise<void> {
    let live = this.isLive(member);
    let names: string[];
    const dir = this.paths.assignDir(member);
    const watcher = this.dirWatchers.get(member, (generation) => () => {
      if (generation !== this.session.generation || this.stopped) return;
      this.dirtyMembers.add(member);
      this.kick();
    });
    try {
      // The view can lag a registration (a directory listed after the view was read): a
      // member is dead only once its member node is gone, never to return (its name holds
      // its session). Reclaiming from a live one would delete the directory it works from.
      if (!live) live = (await this.session.retrying(() => this.session.exists(this.paths.member(member)))) !== null;
      ({ children: names } = await this.session.retrying(() => this.session.getChildren(dir, live ? watcher : undefined)));
    } catch (err) {
      if (err instanceof NoNodeError) {
        this.held.delete(member);
        // Registered, directory not made yet (the member node comes first): assign nothing
        // to it until it is there.
        if (live && (await this.session.retrying(() => this.session.exists(dir, watcher))) !== null) watcher({ type: 'created', path: dir });
        return;
      }
      this.dirtyMembers.add(member);
      throw err;
    }
    const before = this.held.get(member) ?? new Map<string, Held>();
    const now = new Map<string, Held>();
    const fresh = names.filter((n) => !before.has(n));
    const known = names.filter((n) => before.has(n));
    for (const n of known) now.set(n, before.get(n)!);
    // Deadlines of assignments we did not make ourselves (an earlier leader's) are read once.
    const read = await Promise.all(fresh.map((n) => this.readHeld(member, n)));
    for (const h of read) if (h) now.set(Paths.assignmentName(h.taskId, h.attempt), h);
    this.held.set(member, now);

    if (!live) {
      await this.reclaimMember(member, [...now.values()]);
      return;
    }
    if (verify) await Promise.all([...now.values()].map((h) => this.verifyHeld(h)));
    this.armDeadlineTimer();
  }

  private async readHeld(member: string, name: string): Promise<Held | null> {
    const parsed = Paths.parseAssignment(name);
    if (!parsed) {
      this.log.warn({ member, name }, 'unparseable assignment name; ignoring it');
      return null;
    }
    try {
      const { data } = await this.session.retrying(() => this.session.getData(`${this.paths.assignDir(member)}/${name}`));
      let deadline: number | null = null;
      try {
        deadline = (JSON.parse(data.toString('utf8')) as AssignmentData).deadline ?? null;
      } catch {
        /* a damaged assignment body: no deadline known; the record still decides */
      }
      return { member, taskId: parsed.taskId, attempt: parsed.attempt, deadline };
    } catch (err) {
      if (err instanceof NoNodeError) return null;
      throw err;
    }
  }

  /** An assignment must match its record (same member and attempt, still in progress); else it is removed. */
  private async verifyHeld(h: Held): Promise<void> {
    const r = await readTask(this.session, this.paths, h.taskId);
    const ok =
      r.kind === 'ok' &&
      r.record.worker === h.member &&
      r.record.attempt === h.attempt &&
      (r.record.state === 'assigned' || r.record.state === 'running');
    if (ok) return;
    const path = this.paths.assignment(h.member, h.taskId, h.attempt);
    if (r.kind === 'malformed') return this.failMalformedAssigned(h, r.reason, r.version);
    this.log.warn({ taskId: h.taskId, attempt: h.attempt, member: h.member, record: r.kind }, 'stale assignment: removing it');
    try {
      await this.fenced([this.fence(), { op: 'remove', path }]);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
    this.held.get(h.member)?.delete(Paths.assignmentName(h.taskId, h.attempt));
  }

  /** Takes back everything a gone member held, then deletes its directory. */
  private async reclaimMember(member: string, held: Held[]): Promise<void> {
    for (const h of held) {
      await this.reclaim(h, { kind: 'worker-lost', message: `worker ${member} left during attempt ${h.attempt}`, retryable: true }, true);
    }
    try {
      await this.fenced([this.fence(), { op: 'remove', path: this.paths.assignDir(member) }]);
      this.held.delete(member);
      this.dirWatchers.delete(member);
      this.log.info({ member, reclaimed: held.length }, 'worker gone: its tasks are back in the queue');
    } catch (err) {
      if (err instanceof NoNodeError) {
        this.held.delete(member);
        return;
      }
      if (err instanceof NotEmptyError) {
        this.dirtyMembers.add(member); // an assignment raced in: go again
        this.kick();
        return;
      }
      throw err;
    }
  }

  /** Reclaims one assignment if its record still says the member holds it. */
  private async reclaim(h: Held, error: TaskError, requeueNow: boolean): Promise<void> {
    const path = this.paths.assignment(h.member, h.taskId, h.attempt);
    for (let tries = 0; tries < 5; tries++) {
      const r = await readTask(this.session, this.paths, h.taskId);
      const holds =
        r.kind === 'ok' &&
        r.record.worker === h.member &&
        r.record.attempt === h.attempt &&
        (r.record.state === 'assigned' || r.record.state === 'running');
      if (r.kind === 'malformed') return this.failMalformedAssigned(h, r.reason, r.version);
      try {
        if (!holds) {
          await this.fenced([this.fence(), { op: 'remove', path }]);
        } else {
          const t = reclaimOps(this.paths, { record: r.record, version: r.version }, error, Date.now(), this.fence(), requeueNow);
          await this.fenced(t.ops);
          this.log.info({ taskId: h.taskId, attempt: h.attempt, member: h.member, reason: error.kind, next: t.next.state }, 'assignment reclaimed');
          this.emit('reclaimed', h.taskId, error.kind);
        }
        this.held.get(h.member)?.delete(Paths.assignmentName(h.taskId, h.attempt));
        return;
      } catch (err) {
        if (err instanceof NoNodeError && err.opIndex === 1) {
          // The worker committed (or someone cancelled) first: nothing to take back.
          this.held.get(h.member)?.delete(Paths.assignmentName(h.taskId, h.attempt));
          return;
        }
        if (err instanceof ZkError && err.code === 'BAD_VERSION') continue; // record moved: re-read
        throw err;
      }
    }
  }

  /**
   * An assignment whose record does not parse: removing only the assignment would leave the
   * task in no index at all (never terminal, never purged). Fail it with the reason, in the
   * multi that removes the assignment, so a worker's own commit and ours cannot both win.
   */
  private async failMalformedAssigned(h: Held, reason: string, version: number): Promise<void> {
    const path = this.paths.assignment(h.member, h.taskId, h.attempt);
    this.log.warn({ taskId: h.taskId, attempt: h.attempt, member: h.member, reason }, 'malformed task record behind an assignment: marking it failed');
    try {
      await this.fenced([this.fence(), ...failMalformedOps(this.paths, path, malformedStandIn(h.taskId, reason), version)]);
    } catch (err) {
      // Gone or changed meanwhile (the worker failed it first): the next listing decides.
      if (!(err instanceof ZkError && (err.code === 'NO_NODE' || err.code === 'BAD_VERSION'))) throw err;
      this.dirtyMembers.add(h.member);
      this.kick();
    }
    this.held.get(h.member)?.delete(Paths.assignmentName(h.taskId, h.attempt));
  }

  // ---- deadlines -------------------------------------------------------------------------

  private armDeadlineTimer(): void {
    clearTimeout(this.deadlineTimer);
    let earliest: number | null = null;
    for (const m of this.held.values()) for (const h of m.values()) if (h.deadline !== null && (earliest === null || h.deadline < earliest)) earliest = h.deadline;
    if (earliest === null || this.stopped) return;
    this.deadlineTimer = setTimeout(() => this.kick(), Math.max(0, earliest - Date.now()) + 5);
    this.deadlineTimer.unref();
  }

  private async reclaimOverdue(now: number): Promise<void> {
    const overdue: Held[] = [];
    for (const m of this.held.values()) for (const h of m.values()) if (h.deadline !== null && h.deadline <= now) overdue.push(h);
    for (const h of overdue) {
      await this.reclaim(h, { kind: 'timeout', message: `attempt ${h.attempt} passed its deadline on ${h.member}; taken back by the leader`, retryable: true }, false);
    }
  }

  // ---- assignment ------------------------------------------------------------------------

  private workersForPolicy(): PolicyWorker[] {
    // Only members whose assignment directory has been read: it exists and its load is known.
    return this.observer.members().filter((m) => this.held.has(m.name)).map((m) => ({
      name: m.name,
      capacity: m.capacity,
      load: this.held.get(m.name)?.size ?? 0,
      labels: m.labels,
      state: m.state,
    }));
  }

  private async round(): Promise<void> {
    if (this.stopped || !this.ready || this.session.state !== 'connected') return;
    this.queue.resetTaken();
    await this.observer.settled();
    if (this.dirtyMembers.size) await this.refreshMembers();
    await this.reclaimOverdue(Date.now());
    await this.queue.refresh();

    // Loads as this round's own placements change them.
    const workers = this.workersForPolicy();
    const byName = new Map(workers.map((w) => [w.name, w]));
    let slots = freeSlots(workers);
    if (slots === 0) return;
    const now = Date.now();
    const placed: Array<Placement<ReadyTask>> = [];
    // Entries no free worker can take (their labels) stay taken for the rest of the round,
    // so the next pick reaches past them: tasks for busy or absent labels never block the
    // tasks behind them. Budgets bound one round's reads and scan.
    let reads = 0;
    let seen = 0;
    for (let first = true; slots > 0 && reads < ROUND_READ_BUDGET && seen < ROUND_SCAN_BUDGET; first = false) {
      const { entries, nextDueAt } = this.queue.pick(Math.min(slots, this.opts.assignBatch * 4), now);
      if (first) this.armDueTimer(nextDueAt);
      if (entries.length === 0) break;
      seen += entries.length;
      const open = workers.filter((w) => w.state === 'alive' && w.load < w.capacity);
      // Labels are part of the immutable spec: an entry read once needs no read to be skipped.
      const toRead = entries.filter((e) => {
        const labels = this.queue.labelsOf(e);
        return labels === undefined || open.some((w) => labelsMatch(labels, w.labels));
      });
      reads += toRead.length;
      const ready = await this.readQueued(toRead);
      const got = planAssignments(ready, workers);
      for (const p of got) byName.get(p.worker)!.load += 1;
      placed.push(...got);
      slots -= got.length;
    }
    await this.commitPlacements(placed.map((p) => ({ ...p.task, worker: p.worker })));
    // More may fit (bigger queue than one round, or capacity freed meanwhile).
    if (placed.length > 0) this.kick();
  }

  /** Reads the records behind queue entries; repairs what is malformed, missing or stale. */
  private async readQueued(entries: QueueEntry[]): Promise<ReadyTask[]> {
    const records = await Promise.all(entries.map((e) => readTask(this.session, this.paths, e.taskId)));
    const ready: ReadyTask[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const r = records[i]!;
      if (r.kind === 'malformed') {
        await this.rejectMalformed(e, r.reason, r.version);
      } else if (r.kind === 'missing') {
        await this.dropEntry(e, 'queue entry without a task record');
      } else if (r.record.state !== 'queued' || this.paths.queueEntry(r.record.id, r.record.priority, r.record.notBefore ?? r.record.createdAt) !== this.paths.queueEntryPath(e)) {
        await this.dropEntry(e, `stale queue entry (task is ${r.record.state})`);
      } else {
        this.queue.rememberLabels(e, r.record.labels);
        ready.push({ entry: e, cur: { record: r.record, version: r.version }, id: r.record.id, labels: r.record.labels });
      }
    }
    return ready;
  }

  private armDueTimer(at: number | null): void {
    clearTimeout(this.dueTimer);
    if (at === null || this.stopped) return;
    this.dueTimer = setTimeout(() => this.kick(), Math.max(0, at - Date.now()) + 5);
    this.dueTimer.unref();
  }

  private async commitPlacements(items: Array<{ entry: QueueEntry; cur: VersionedRecord; worker: string }>): Promise<void> {
    let i = 0;
    while (i < items.length) {
      // One batch: as many as fit under the op and byte budget, behind one fence.
      const now = Date.now();
      const batch: Array<{ item: (typeof items)[number]; next: TaskRecord; deadline: number | null }> = [];
      const ops: Op[] = [this.fence()];
      while (i < items.length && batch.length < this.opts.assignBatch) {
        const item = items[i]!;
        const t = assignOps(this.paths, item.cur, this.paths.queueEntryPath(item.entry), item.worker, this.handle.epoch, now, this.opts.timeoutGraceMs);
        if (batch.length > 0 && opsBytes(ops) + opsBytes(t.ops) > MAX_MULTI_BYTES) break;
        ops.push(...t.ops);
        batch.push({ item, next: t.next, deadline: t.next.timeoutMs > 0 ? now + t.next.timeoutMs + this.opts.timeoutGraceMs : null });
        i++;
      }
      failpoint('leader.before-assign');
      try {
        await this.fenced(ops);
        failpoint('leader.after-assign');
      } catch (err) {
        if (err instanceof ZkError && err.opIndex !== undefined && err.opIndex > 0 && !(err instanceof ConnectionLossError)) {
          // One task in the batch moved under us (cancelled, say): drop it, retry the rest.
          const bad = Math.floor((err.opIndex - 1) / 3);
          const culprit = batch[bad]!.item;
          this.log.info({ taskId: culprit.cur.record.id, err: err.code }, 'task changed while being assigned; re-reading it');
          this.queue.release(culprit.entry);
          this.queue.invalidate(culprit.entry.shard);
          // The others are retried next round, from fresh reads.
          for (const b of batch) this.queue.release(b.item.entry);
          for (let k = i; k < items.length; k++) this.queue.release(items[k]!.entry);
          this.kick();
          return;
        }
        for (const b of batch) this.queue.release(b.item.entry);
        for (let k = i; k < items.length; k++) this.queue.release(items[k]!.entry);
        throw err;
      }
      for (const b of batch) {
        this.queue.drop(b.item.entry);
        const name = Paths.assignmentName(b.next.id, b.next.attempt);
        let m = this.held.get(b.item.worker);
        if (!m) this.held.set(b.item.worker, (m = new Map()));
        m.set(name, { member: b.item.worker, taskId: b.next.id, attempt: b.next.attempt, deadline: b.deadline });
      }
      this.log.debug({ count: batch.length }, 'assigned');
      this.emit('assigned', batch.length);
    }
    this.armDeadlineTimer();
  }

  private async dropEntry(e: QueueEntry, why: string): Promise<void> {
    this.log.warn({ taskId: e.taskId, entry: e.name, why }, 'removing queue entry');
    try {
      await this.fenced([this.fence(), { op: 'remove', path: this.paths.queueEntryPath(e) }]);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
    this.queue.drop(e);
  }

  private async rejectMalformed(e: QueueEntry, reason: string, version: number): Promise<void> {
    const standIn = malformedStandIn(e.taskId, reason);
    this.log.warn({ taskId: e.taskId, reason }, 'malformed task record: marking it failed');
    try {
      await this.fenced(rejectOps(this.paths, standIn, version, this.paths.queueEntryPath(e), this.fence()));
    } catch (err) {
      if (!(err instanceof ZkError && (err.code === 'NO_NODE' || err.code === 'BAD_VERSION'))) throw err;
      this.queue.invalidate(e.shard);
    }
    this.queue.drop(e);
  }

  // ---- retention -------------------------------------------------------------------------

  /** Deletes finished tasks older than the retention, shard by shard, in fenced batches. */
  async purgeFinished(now = Date.now()): Promise<number> {
    if (this.stopped || this.session.state !== 'connected') return 0;
    let purged = 0;
    const cutoff = now - this.opts.retentionMs;
    for (const shard of this.paths.shardNames) {
      if (this.stopped) break;
      const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.doneShard(shard)));
      const old = children.map((n) => ({ n, p: Paths.parseDoneEntry(n) })).filter((x) => x.p && x.p.finishedAt <= cutoff);
      for (let i = 0; i < old.length; i += 50) {
        const ops: Op[] = [this.fence()];
        for (const { n, p } of old.slice(i, i + 50)) {
          ops.push(...purgeOps(this.paths, p!.taskId, `${this.paths.doneShard(shard)}/${n}`, -1, this.fence()).slice(1));
        }
        try {
          await this.fenced(ops);
          purged += (ops.length - 1) / 2;
        } catch (err) {
          if (err instanceof DeposedError) throw err;
          // One of them went meanwhile: fall back to one at a time.
          for (const { n, p } of old.slice(i, i + 50)) {
            try {
              await this.fenced(purgeOps(this.paths, p!.taskId, `${this.paths.doneShard(shard)}/${n}`, -1, this.fence()));
              purged++;
            } catch (e) {
              if (e instanceof DeposedError) throw e;
              if (!(e instanceof NoNodeError)) this.log.warn({ taskId: p!.taskId, err: (e as Error).message }, 'could not purge finished task');
            }
          }
        }
      }
    }
    if (purged) this.log.info({ purged, retentionMs: this.opts.retentionMs }, 'finished tasks purged');
    return purged;
  }
}
