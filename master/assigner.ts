// Assignment rounds: queued tasks to free workers, by priority then age, in fenced multis of
// up to `assignBatch` tasks. Also owns the timers that wake a round with no ZooKeeper event
// (wake-timer.ts): the next queue entry coming due (a retry's backoff ending), the next
// deadline, the next start token of a rate limit.
import { yieldToIo } from '../shared/util/coalescer.js';
import type { QueueEntry } from '../shared/protocol/paths.js';
import { BATCH_LIMITS, type VersionedRecord } from '../shared/protocol/task-ops.js';
import { assignBatch, type AssignItem } from '../shared/protocol/transitions.js';
import type { MembershipObserver } from '../shared/zk/membership.js';
import { freeSlots, type Placement, type PolicyWorker } from './assignment-policy.js';
import { planWithin } from './limits.js';
import { LimitRound, type PriorBuckets } from './limits-round.js';
import { notDeposed, type LeaderContext } from './leader-context.js';
import type { QueueIndex } from './queue-index.js';
import type { Reconciler } from './reconcile.js';
import { readQueued, type ReadyTask } from './queued-tasks.js';
import { WakeTimer } from './wake-timer.js';

/** Records one round may read looking for placeable tasks (the next round goes on). */
const ROUND_READ_BUDGET = 2000;

/** Workers named in a round's debug line (the others are counted). */
const ROUND_LOG_WORKERS = 20;

/** What a round did, for its debug line: queue entries it took to read, tasks committed per worker. */
interface RoundReport {
  considered: number;
  placedOn: Map<string, number>;
}

export class Assigner {
  /** The next queue entry coming due, the next deadline, the next start token (wake-timer.ts). */
  private readonly dueTimer: WakeTimer;
  private readonly deadlineTimer: WakeTimer;
  private readonly tokenTimer: WakeTimer;
  private readonly limitRound: LimitRound;
  /** Work done (tests, logs): rounds, those that ended at once for want of a free slot, tasks assigned. */
  readonly stats = { rounds: 0, noFreeSlot: 0, assigned: 0 };

  constructor(
    private readonly ctx: LeaderContext,
    private readonly observer: MembershipObserver,
    private readonly reconciler: Reconciler,
    private readonly queue: QueueIndex,
    /** The previous leader's buckets (read at takeover): new buckets are seeded from them. */
    prior: PriorBuckets,
    /** False while the picture may miss what happened during a cut: a round then places nothing. */
    private readonly mayPlace: () => boolean = () => true,
    /** Members asked to drain (control/drain): given nothing, as if their state said 'draining'. */
    private readonly draining: (member: string) => boolean = () => false,
  ) {
    this.limitRound = new LimitRound(reconciler, prior);
    this.dueTimer = new WakeTimer(ctx);
    this.deadlineTimer = new WakeTimer(ctx);
    this.tokenTimer = new WakeTimer(ctx);
  }

  stop(): void {
    this.dueTimer.stop();
    this.deadlineTimer.stop();
    this.tokenTimer.stop();
  }

  private workersForPolicy(): PolicyWorker[] {
    // Only members whose assignment directory has been read: it exists and its load is known.
    return this.observer.members().filter((m) => this.reconciler.knows(m.name)).map((m) => ({
      name: m.name,
      capacity: m.capacity,
      load: this.reconciler.load(m.name),
      labels: m.labels,
      // Workers of an older version advertise no types: used only when no typed worker takes a task.
      types: m.types,
      state: this.draining(m.name) ? 'draining' : m.state,
    }));
  }

  /** One round (timed, and logged at debug when it looked at the queue). */
  async round(): Promise<void> {
    const t0 = performance.now();
    const r: RoundReport = { considered: 0, placedOn: new Map() };
    try {
      await this.doRound(r);
    } finally {
      const seconds = (performance.now() - t0) / 1000;
      this.ctx.metrics?.round(seconds);
      if (r.considered > 0) this.logRound(r, seconds);
    }
  }

  private logRound(r: RoundReport, seconds: number): void {
    if (!this.ctx.log.isLevelEnabled('debug')) return;
    let placed = 0;
    const perWorker: Record<string, number> = {};
    let shown = 0;
    for (const [w, n] of r.placedOn) {
      placed += n;
      // A debug line, not a table: the first ROUND_LOG_WORKERS workers placed on, the rest counted.
      if (shown++ < ROUND_LOG_WORKERS) perWorker[w] = n;
    }
    this.ctx.log.debug(
      { considered: r.considered, placed, workers: r.placedOn.size, perWorker, ms: Math.round(seconds * 1e4) / 10 },
      'assignment round',
    );
  }

  /** Refresh what changed, take back what is overdue, place what fits. */
  private async doRound(report: RoundReport): Promise<void> {
    this.stats.rounds++;
    this.queue.resetTaken();
    await this.observer.settled();
    if (this.reconciler.hasDirty) await this.reconciler.refreshMembers();
    await this.reconciler.reclaimOverdue(Date.now());
    this.armDeadlineTimer();
    // The queue index is kept current by its tree watch (queue-mirror.ts): nothing is listed here.
    await this.queue.promoteDue(Date.now());
    // From the whole waiting set, not from the entries this round happens to look at.
    this.dueTimer.at(this.queue.nextDueAt());

    // Refreshed, overdue taken back, but nothing placed on a picture that may be stale: the
    // resets' reads kick a round once they are applied.
    if (!this.mayPlace()) return;
    // Everything paused (control/paused): nothing read, nothing placed.
    const gate = this.queue.gate;
    if (gate.pausedAll) return;
    // Limits (control/limits): applied as read, room per scope from what is held now.
    await this.limitRound.begin(gate);
    const limits = gate.limits;
    // Loads as the mirror has them plus this round's own placements: taken again after every
    // read, whose reply follows every event of the requests sent before it (an assign whose
    // outcome we did not learn, applied late, shows up there as unread assignments).
    const workers = this.workersForPolicy();
    // This round's placements per worker (until committed: the report keeps those that were).
    const placedOn = new Map<string, number>();
    const reloaded = () => {
      for (const w of workers) {
        // Gone since the round began (its directory or its member node): nothing more for it.
        const known = this.reconciler.knows(w.name) && this.observer.get(w.name) !== undefined;
        w.load = known ? this.reconciler.load(w.name) + (placedOn.get(w.name) ?? 0) : w.capacity;
      }
      return freeSlots(workers);
    };
    // Which classes a free worker takes: decided per worker profile, cached per class.
    await gate.update(workers);
    let slots = freeSlots(workers);
    // Nothing placeable: the round ends here, having touched nothing of the queue.
    if (slots === 0) return void this.stats.noFreeSlot++;
    const placed: Array<Placement<ReadyTask>> = [];
    // Only unread entries and classes the gate opens are handed out, no more of a class than
    // the free slots of the workers that accept it: a class no free worker can take is never
    // looked at. An entry read and not placed stays taken for the rest of the round. The chunk
    // grows while reads place less than they take (unread entries of blocked classes), so
    // classifying a backlog takes few round trips while a placeable queue is never read far
    // beyond the free slots.
    let reads = 0;
    let chunk = slots;
    try {
      while (slots > 0 && reads < ROUND_READ_BUDGET) {
        const entries = this.queue.take(Math.min(Math.max(chunk, slots), this.ctx.opts.assignBatch * 4, ROUND_READ_BUDGET - reads));
        if (entries.length === 0) break;
        reads += entries.length;
        report.considered = reads;
        const ready = await readQueued(this.ctx, this.queue, entries);
        // The connection may have dropped while the read was out (and the read been retried after).
        if (!this.mayPlace()) return this.releaseAll(placed);
        slots = reloaded();
        // Unread entries of a paused type (or a full limit scope) are read (classified) once, then wait in their closed class.
        const got = slots > 0 ? planWithin(limits, ready.filter((t) => !gate.isPaused(t.type)), workers) : [];
        for (const p of got) placedOn.set(p.worker, (placedOn.get(p.worker) ?? 0) + 1);
        placed.push(...got);
        slots = reloaded();
        if (got.length < entries.length) chunk *= 2;
        // Free capacity per profile as the placements left it (nothing per class).
        await gate.update(workers);
        await yieldToIo();
      }
    } catch (err) {
      // A read or a repair failed: nothing of `placed` was written, their room and tokens go back.
      this.releaseAll(placed);
      throw err;
    }
    if (!this.mayPlace()) return this.releaseAll(placed);
    await this.commitPlacements(
      placed.map((p) => ({ entry: p.task.entry, cur: p.task.cur, worker: p.worker })),
      report.placedOn,
    );
    // More may fit (bigger queue than one round, capacity freed meanwhile, or unread entries
    // left when the read budget ran out).
    if (placed.length > 0 || reads >= ROUND_READ_BUDGET) this.ctx.kick();
    // A class held back for want of a token: one timer for the next token (no polling loop).
    this.tokenTimer.in(limits.active ? limits.nextTokenInMs() : null);
  }

  /** Placements not sent: back to the queue, their room (and tokens) given back. */
  private releaseAll(placed: ReadonlyArray<Placement<ReadyTask>>): void {
    for (const p of placed) this.unsent(p.task.entry, p.task.cur);
  }

  private unsent(entry: QueueEntry, cur: VersionedRecord): void {
    this.queue.release(entry);
    const limits = this.queue.gate.limits;
    limits.unreserve(limits.scopesFor(cur.record));
  }

  private armDeadlineTimer(): void {
    this.deadlineTimer.at(this.reconciler.earliestDeadline());
  }

  /** Commits the placements; `placedOn` counts, per worker, those committed. */
  private async commitPlacements(items: AssignItem[], placedOn: Map<string, number>): Promise<void> {
    const { opts, handle } = this.ctx;
    const limits = { maxItems: opts.assignBatch, maxBytes: BATCH_LIMITS.maxBytes, epoch: handle.epoch, graceMs: opts.timeoutGraceMs };
    // One multi at a time, as many as fit under the op and byte budget, behind one fence.
    for (let i = 0; i < items.length; ) {
      // Not written (moved): room given back; outcome unknown (it may have been): kept taken.
      const releaseRest = (maybeWritten: boolean) => {
        for (let k = i; k < items.length; k++) if (maybeWritten) this.queue.release(items[k]!.entry); else this.unsent(items[k]!.entry, items[k]!.cur);
      };
      let v;
      try {
        v = notDeposed(this.ctx, await assignBatch(this.ctx, items, i, limits));
      } catch (err) {
        releaseRest(true);
        throw err;
      }
      if (v.kind === 'moved') {
        // One task in the batch moved under us (cancelled, say): drop it, retry the rest.
        const culprit = items[v.item]!;
        this.ctx.log.info({ taskId: culprit.cur.record.id, err: v.code }, 'task changed while being assigned; re-reading it');
        // It and the others (items from i on) are retried next round, from fresh reads.
        releaseRest(false);
        this.ctx.kick();
        return;
      }
      if (v.kind === 'unknown') {
        releaseRest(true);
        throw v.error;
      }
      v.assigned.forEach((a, k) => {
        const item = items[i + k]!;
        placedOn.set(item.worker, (placedOn.get(item.worker) ?? 0) + 1);
        this.queue.drop(item.entry);
        const { id: taskId, attempt, type, labels, assignedAt } = a.next;
        this.reconciler.recordAssigned({ member: item.worker, taskId, attempt, deadline: a.deadline, recordBytes: a.recordBytes, type, labels, ...(assignedAt !== undefined ? { assignedAt } : {}) });
      });
      this.stats.assigned += v.taken;
      this.ctx.metrics?.assigned(v.taken);
      this.ctx.emit('assigned', v.taken);
      i += v.taken;
    }
    this.armDeadlineTimer();
  }
}
