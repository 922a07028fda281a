// The library's cron schedules (client.schedules): add, list, get, remove, pause, resume. The
// leader submits each occurrence (master/scheduler.ts); these calls only write the schedule's
// znode (shared/protocol/schedule.ts), every change at the version read (CAS), again on a race.
// A remove leaves a tombstone (never a delete: a node's version must not start again at 0 under
// a leader that read the old one); an add over a tombstone writes at its version. The leader
// deletes a tombstone a minute old (master/schedule-tombstones.ts); a client never does.
//
// Requests: add 1 create (+ 1 getData and 1 setData over a tombstone or with replace; + 1
// create of schedules/ on first use); get 1 getData; list 1 getChildren + 1 multiRead per
// SCHEDULES_PER_READ names (tombstones included); remove 1 getData + 1 setData; pause/resume
// 1 getData + 1 setData. After a lost reply, the retry tells its own write by the schedule's
// incarnation (add) or by the tombstone it finds (remove).
import { listSchedules, readSchedules, type ReadSchedule } from '../shared/protocol/schedule-reads.js';
import type { Paths } from '../shared/protocol/paths.js';
import {
  cronOf,
  encodeSchedule,
  encodeTombstone,
  newSchedule,
  nextOccurrence,
  schedulePath,
  ScheduleNotFoundError,
  ScheduleValidationError,
  type Schedule,
  type ScheduleSpec,
} from '../shared/protocol/schedule.js';
import { resumedAt } from '../shared/protocol/schedule-plan.js';
import type { VersionedSchedule } from '../shared/protocol/schedule-ops.js';
import { DEFAULT_LIMITS, type SizeLimits } from '../shared/protocol/task-record.js';
import { BadVersionError, ConnectionLossError, NodeExistsError, NoNodeError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';

export { ScheduleNotFoundError, ScheduleValidationError, type Schedule, type ScheduleSpec } from '../shared/protocol/schedule.js';

/** A schedule as listed: its stored fields and its next occurrence (ms; null while paused or when none is left). */
export interface ScheduleInfo extends Schedule {
  next: number | null;
}

const TRIES = 50;

export class ScheduleApi {
  constructor(
    readonly session: ZkSession,
    readonly paths: Paths,
    private readonly limits: SizeLimits = DEFAULT_LIMITS,
  ) {}

  /**
   * Adds a schedule; an existing name is refused (ScheduleValidationError) unless `replace`,
   * which writes the new spec over it at the version read: its cursor starts again from now,
   * so no occurrence before the replace is submitted (twice or at all).
   */
  async add(name: string, spec: ScheduleSpec, opts: { replace?: boolean } = {}): Promise<ScheduleInfo> {
    const { incarnation } = newSchedule(name, spec, Date.now(), this.limits); // checked before any request
    let lost = false; // a write whose reply was lost: it may have committed
    for (let tries = 0; tries < TRIES; tries++) {
      const s = { ...newSchedule(name, spec, Date.now(), this.limits), incarnation };
      const path = schedulePath(this.paths, name);
      const data = encodeSchedule(s);
      try {
        if (!opts.replace) {
          try {
            await this.create(path, data);
            return info(s);
          } catch (err) {
            if (!(err instanceof NodeExistsError)) throw err;
          }
        }
        const cur = await this.readNode(name);
        if (cur === null) {
          await this.create(path, data);
          return info(s);
        }
        if ('error' in cur && !opts.replace) throw new ScheduleValidationError('schedule', cur.error);
        if ('schedule' in cur) {
          if (lost && cur.schedule.incarnation === incarnation) return info(cur.schedule); // ours, committed
          if (!opts.replace) throw new ScheduleValidationError('name', `a schedule ${name} exists already (replace it with {replace: true}, or remove it first)`);
        }
        await this.session.setData(path, data, cur.version); // over a tombstone, or replacing
        return info(s);
      } catch (err) {
        if (err instanceof ConnectionLossError) lost = true;
        await retryable(this.session, err);
      }
    }
    throw new ScheduleValidationError('name', `schedule ${name} kept changing; gave up after ${TRIES} tries`);
  }

  async get(name: string): Promise<ScheduleInfo | null> {
    const cur = await this.read(name);
    return cur && info(cur.schedule);
  }

  /** Every schedule, by name. One that cannot be read is left out. */
  async list(): Promise<ScheduleInfo[]> {
    const names = await this.session.retrying(() => listSchedules(this.session, this.paths));
    const got = await this.session.retrying(() => readSchedules(this.session, this.paths, names));
    const out: ScheduleInfo[] = [];
    for (const r of got.values()) if (r !== null && 'schedule' in r) out.push(info(r.schedule));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Removes a schedule (its occurrences already submitted go on); false when there was none. */
  async remove(name: string): Promise<boolean> {
    let lost = false; // a tombstone write whose reply was lost: found on the retry, it was ours
    for (let tries = 0; tries < TRIES; tries++) {
      const cur = await this.readNode(name);
      if (cur === null || 'removed' in cur) return lost;
      try {
        await this.session.setData(schedulePath(this.paths, name), encodeTombstone(name, Date.now()), cur.version);
        return true;
      } catch (err) {
        if (err instanceof ConnectionLossError) lost = true;
        await retryable(this.session, err);
      }
    }
    throw new ScheduleValidationError('name', `schedule ${name} kept changing; gave up after ${TRIES} tries`);
  }

  /** Fires nothing until resumed; the occurrences meanwhile are skipped (counted at resume). */
  pause(name: string): Promise<ScheduleInfo> {
    return this.update(name, (s, now) => (s.paused ? s : { ...s, paused: true, pausedAt: now }));
  }

  /** Fires again from now: the occurrences of the pause are counted in `skipped`, none submitted. */
  resume(name: string): Promise<ScheduleInfo> {
    return this.update(name, (s, now) => {
      if (!s.paused) return s;
      const { pausedAt: _, ...rest } = s;
      return { ...rest, paused: false, ...resumedAt(s, now) };
    });
  }

  private async update(name: string, change: (s: Schedule, now: number) => Schedule): Promise<ScheduleInfo> {
    for (let tries = 0; tries < TRIES; tries++) {
      const cur = await this.read(name);
      if (cur === null) throw new ScheduleNotFoundError(name);
      const next = change(cur.schedule, Date.now());
      if (next === cur.schedule) return info(next);
      try {
        await this.session.setData(schedulePath(this.paths, name), encodeSchedule(next), cur.version);
        return info(next);
      } catch (err) {
        await retryable(this.session, err);
      }
    }
    throw new ScheduleValidationError('name', `schedule ${name} kept changing; gave up after ${TRIES} tries`);
  }

  /** A schedule, or null when there is none (never made, or removed). */
  private async read(name: string): Promise<VersionedSchedule | null> {
    const got = await this.readNode(name);
    if (got === null || 'removed' in got) return null;
    if ('error' in got) throw new ScheduleValidationError('schedule', got.error);
    return got;
  }

  private async readNode(name: string): Promise<ReadSchedule> {
    schedulePath(this.paths, name); // checks the name before any request
    return (await this.session.retrying(() => readSchedules(this.session, this.paths, [name]))).get(name) ?? null;
  }

  /** Creates a schedule's znode, making schedules/ on first use (the root must exist). */
  private async create(path: string, data: Buffer): Promise<void> {
    try {
      await this.session.create(path, data);
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      try {
        await this.session.create(this.paths.schedules);
      } catch (e) {
        if (e instanceof NoNodeError) throw new ScheduleValidationError('root', `no drover cluster under ${this.paths.root || '/'} (its root is gone)`);
        if (!(e instanceof NodeExistsError)) throw e;
      }
      await this.session.create(path, data);
    }
  }
}

function info(s: Schedule): ScheduleInfo {
  return { ...s, next: s.paused ? null : nextOccurrence(cronOf(s.cron, s.tz), Math.max(s.cursor, Date.now())) };
}

/** A race (the version moved) or a lost reply: try again; anything else is thrown. */
async function retryable(session: ZkSession, err: unknown): Promise<void> {
  if (err instanceof ConnectionLossError) return void (await session.waitConnected().catch(() => undefined));
  if (!(err instanceof BadVersionError || err instanceof NodeExistsError || err instanceof NoNodeError)) throw err;
}
