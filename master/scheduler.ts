// The leader's cron schedules (issue 15): every occurrence of every schedule submitted exactly
// once, on the leader's clock. The rules of a write are shared/protocol/schedule-ops.ts (one
// fenced multi: the task and the cursor together), which occurrences now is schedule-plan.ts.
//
// One persistent recursive watch on schedules/ (it may not exist yet: the watch fires when it
// is made); at start and after a reset (a reconnect) every schedule is read (1 getChildren +
// 1 multiRead per SCHEDULES_PER_READ), after an event only the one it names (1 multiRead). Our own cursor writes echo
// back as change events: they are expected (counted before the write), so an occurrence costs
// its one multi and no read. One timer, for the earliest next occurrence of all. A pass steps
// the due schedules STEP_CONCURRENCY at a time (one schedule's writes stay in order), and an
// occurrence since this leader began to serve (its last full read) is fired however late the
// pass reaches it (up to MAX_LATE_MS): hundreds due at once, or a takeover's long catch-up of
// one, make the others late, never skipped. Missed (skip, catch-up) is only what came before.
//
// Correctness rests on versions, not on events: a write at a stale version is refused (moved)
// and the schedule re-read, so a missed or miscounted event costs a read, never a wrong task.
import { isScheduleName } from '../shared/protocol/schedule.js';
import { planOccurrences } from '../shared/protocol/schedule-plan.js';
import { advanceCursor, submitOccurrence, type ScheduleVerdict } from '../shared/protocol/schedule-ops.js';
import { HARD_SIZE_CAP, TaskValidationError, type SizeLimits } from '../shared/protocol/task-record.js';
import { NoAuthBackoff } from '../shared/zk/auth-backoff.js';
import { SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';
import type { TreeEvent, TreeWatch } from '../shared/zk/session.js';
import { Coalescer } from '../shared/util/coalescer.js';
import { pooled } from '../shared/util/pool.js';
import { DeposedError, notDeposed, type LeaderContext } from './leader-context.js';
import type { LeaderService } from './leader-services.js';
import { ScheduleEntries, setNext, type Entry } from './schedule-entries.js';
import { Tombstones } from './schedule-tombstones.js';
import { WakeTimer } from './wake-timer.js';
import type { OccurrenceOutcome } from './workflow-metrics.js';
import { listSchedules, readSchedules } from '../shared/protocol/schedule-reads.js';

/** Schedules stepped at once in a pass (each awaits one multi per occurrence). */
const STEP_CONCURRENCY = 8;
/** Later than this an occurrence counts as missed even under a serving leader (a long stall, writes failing). */
const MAX_LATE_MS = 60_000;
/** The leader submits what clients validated with their own limits: only the hard cap applies here. */
const LEADER_LIMITS: SizeLimits = { maxPayloadBytes: HARD_SIZE_CAP, maxResultBytes: HARD_SIZE_CAP };

export class Scheduler implements LeaderService {
  readonly name = 'scheduler';
  /** Occurrences submitted and skipped by this leadership (tests, logs). */
  readonly counts = { submitted: 0, skipped: 0, reads: 0 };
  private stopped = false;
  private watch?: TreeWatch;
  /** The earliest next occurrence (or tombstone due), and a retry after a failure (wake-timer.ts). */
  private readonly timer = new WakeTimer({ kick: () => this.kick(), stopped: false });
  private readonly retryTimer = new WakeTimer({ kick: () => this.kick(), stopped: false });
  /** Tombstones read (removed schedules): deleted once old enough. */
  readonly tombstones = new Tombstones();
  private readonly entries: ScheduleEntries;
  /** Schedules to re-read (named by events or refused writes). */
  private readonly dirty = new Set<string>();
  private fullRead = true;
  /** When the last full read began: occurrences since are this leader's to fire, however late. */
  private servingSince = Infinity;
  private readonly pass: Coalescer;
  private readonly backoff: NoAuthBackoff;

  constructor(readonly ctx: LeaderContext) {
    this.entries = new ScheduleEntries(ctx.log, this.tombstones);
    this.backoff = new NoAuthBackoff(ctx.log);
    this.pass = new Coalescer(
      () => this.run(),
      (err) => this.onError(err),
    );
  }

  /** Schedules held that are not paused. */
  get active(): number {
    return this.entries.active();
  }

  async start(): Promise<void> {
    const w = await this.ctx.session.watchTree(
      this.ctx.paths.schedules,
      (e) => this.onEvent(e),
      () => {
        this.fullRead = true;
        this.kick();
      },
    );
    // stop() came while the watch was being added: it saw none to close.
    if (this.stopped) return void (await w.close().catch(() => undefined));
    this.watch = w;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer.stop();
    this.retryTimer.stop();
    await this.watch?.close().catch(() => undefined);
    await this.pass.settled();
    this.timer.stop();
    this.retryTimer.stop();
  }

  private kick(): void {
    if (!this.stopped) this.pass.kick();
  }

  private onEvent(e: TreeEvent): void {
    const prefix = `${this.ctx.paths.schedules}/`;
    if (!e.path.startsWith(prefix)) return;
    const name = e.path.slice(prefix.length);
    // A node drover did not make (zkCli's schedules/daily:report) is none of ours: never read.
    if (name.includes('/') || !isScheduleName(name)) return;
    const entry = this.entries.get(name);
    if (e.type === 'changed' && entry && entry.echoes > 0) return void entry.echoes--;
    this.dirty.add(name);
    this.kick();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    await this.refresh();
    this.backoff.succeeded();
    const passStart = Date.now();
    // Missed: before this leader served (or far too late); anything since is fired, late if busy.
    const since = Math.max(Math.min(this.servingSince, passStart), passStart - MAX_LATE_MS);
    const due = this.entries.due(passStart);
    // Every lane ends before the pass does (the coalescer's next pass must not overlap it); a
    // failure begins no more steps and is thrown once the running ones have ended.
    await pooled(
      due,
      async (name) => {
        const e = this.entries.get(name);
        if (!e || this.stopped) return;
        try {
          await this.step(name, since);
        } catch (err) {
          // A schedule whose occurrence cannot be a task (a field this drover refuses) stops only itself.
          if (!(err instanceof TaskValidationError)) throw err;
          this.entries.unusable(name, e.vs.version, err.message);
        }
      },
      STEP_CONCURRENCY,
    );
    // No step in flight now, and the multi is fenced: no write of ours can race the delete.
    await this.sweepTombstones();
    if (this.stopped) return;
    this.arm();
  }

  /** Applies the reads the watch asked for. */
  private async refresh(): Promise<void> {
    const { session, paths } = this.ctx;
    if (this.fullRead) {
      this.fullRead = false;
      this.dirty.clear();
      try {
        const began = Date.now();
        const names = await listSchedules(session, paths);
        const got = await readSchedules(session, paths, names);
        this.counts.reads++;
        this.entries.clear();
        this.tombstones.clear();
        this.servingSince = began;
        await this.entries.applyAll(got);
      } catch (err) {
        this.fullRead = true;
        throw err;
      }
      return;
    }
    if (this.dirty.size === 0) return;
    const names = [...this.dirty];
    this.dirty.clear();
    try {
      const got = await readSchedules(session, paths, names);
      this.counts.reads++;
      await this.entries.applyAll(got);
    } catch (err) {
      for (const n of names) this.dirty.add(n);
      throw err;
    }
  }

  /** Submits (or skips) what is due of one schedule, one fenced multi per occurrence. */
  private async step(name: string, since: number): Promise<void> {
    const e = this.entries.get(name)!;
    const plan = planOccurrences(e.vs.schedule, Date.now(), e.cron, since);
    if (plan.fire.length === 0 && plan.skipCursor !== null) {
      if (!(await this.write(e, name, () => advanceCursor(this.ctx, e.vs, plan.skipCursor!, plan.skipped)))) return;
      this.count('skipped', plan.skipped);
      this.ctx.log.info({ schedule: name, skipped: plan.skipped }, 'missed occurrences skipped');
    }
    for (let i = 0; i < plan.fire.length; i++) {
      const at = plan.fire[i]!;
      const skipped = i === 0 ? plan.skipped : 0;
      let created = false;
      const ok = await this.write(e, name, async () => {
        const v = await submitOccurrence(this.ctx, e.vs, at, skipped, Date.now(), LEADER_LIMITS);
        if (v.kind === 'committed') created = v.created;
        return v;
      });
      if (!ok) return;
      if (created) this.count('submitted', 1);
      this.count('skipped', skipped);
      this.ctx.log.debug({ schedule: name, at: new Date(at).toISOString(), skipped }, 'schedule occurrence submitted');
    }
    setNext(e);
  }

  /** Occurrences of a committed write, in this leadership's counts and the registry's counter. */
  private count(outcome: OccurrenceOutcome, n: number): void {
    if (n === 0) return;
    this.counts[outcome] += n;
    this.ctx.metrics?.workflow.occurrences(outcome, n);
  }

  /** One write; false when it did not commit (the schedule is re-read, or retried after an unknown). */
  private async write(e: Entry, name: string, send: () => Promise<ScheduleVerdict>): Promise<boolean> {
    if (this.stopped) return false;
    e.echoes++; // its event may come before its reply
    let v: ScheduleVerdict;
    try {
      v = notDeposed(this.ctx, await send());
    } catch (err) {
      e.echoes--;
      throw err;
    }
    if (v.kind === 'committed') {
      e.vs = v.next;
      return true;
    }
    e.echoes = v.kind === 'unknown' ? 0 : e.echoes - 1;
    e.nextAt = Infinity; // until re-read
    this.dirty.add(name);
    if (v.kind === 'unknown') this.retryLater(v.error);
    else this.kick();
    return false;
  }

  /** Deletes the tombstones old enough (see schedule-tombstones.ts). */
  private async sweepTombstones(): Promise<void> {
    if (this.tombstones.size === 0) return;
    const r = await this.tombstones.sweep(this.ctx, () => this.stopped);
    for (const name of r.moved) this.dirty.add(name);
    if (r.unknown) this.retryLater(r.unknown);
    else if (r.more || r.moved.length > 0) this.kick();
  }

  private arm(): void {
    if (this.stopped) return this.timer.stop();
    const earliest = Math.min(this.entries.earliest(), this.tombstones.earliest());
    this.timer.at(earliest === Infinity ? null : earliest);
  }

  private retryLater(err: unknown): void {
    this.retryTimer.in(this.stopped ? null : this.backoff.delayAfter(err, 250));
  }

  private onError(err: unknown): void {
    if (this.stopped || this.ctx.stopped) return;
    if (err instanceof DeposedError) return void this.ctx.emit('deposed', `fence refused a write: ${err.message}`);
    if (err instanceof SessionExpiredError || err instanceof SessionClosedError) return; // the election reports it
    if (!NoAuthBackoff.is(err)) this.ctx.log.warn({ err: (err as Error).message }, 'scheduler: cannot read or write schedules; retrying');
    this.retryLater(err);
  }
}
