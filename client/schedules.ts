// The library's cron schedules (client.schedules): add, list, get, remove, pause, resume. The
// leader submits each occurrence (master/scheduler.ts); these calls only write the schedule's
// znode (shared/protocol/schedule.ts), every change at the version read (CAS), again on a race.
//
// Requests: add 1 create (+ 1 getData and 1 setData with replace; + 1 create of schedules/ on
// first use); get 1 getData; list 1 getChildren + 1 multiRead; remove 1 getData + 1 delete;
// pause/resume 1 getData + 1 setData.
import { listSchedules, readSchedules } from '../shared/protocol/schedule-reads.js';
import type { Paths } from '../shared/protocol/paths.js';
import {
  cronOf,
  encodeSchedule,
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
    let lost: Buffer | null = null; // what a create whose reply was lost wrote
    for (let tries = 0; tries < TRIES; tries++) {
      const s = newSchedule(name, spec, Date.now(), this.limits);
      const path = schedulePath(this.paths, name);
      try {
        if (!opts.replace) {
          const data = encodeSchedule(s);
          try {
            await this.create(path, data);
          } catch (err) {
            if (err instanceof ConnectionLossError) lost = data;
            throw err;
          }
          return info(s);
        }
        const cur = await this.read(name);
        if (cur === null) await this.create(path, encodeSchedule(s));
        else await this.session.setData(path, encodeSchedule(s), cur.version);
        return info(s);
      } catch (err) {
        if (err instanceof NodeExistsError && !opts.replace && lost !== null) {
          const cur = await this.read(name);
          if (cur && encodeSchedule(cur.schedule).equals(lost)) return info(cur.schedule);
        }
        if (err instanceof NodeExistsError && !opts.replace) throw new ScheduleValidationError('name', `a schedule ${name} exists already (replace it with {replace: true}, or remove it first)`);
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
    for (const r of got.values()) if (r !== null && !('error' in r)) out.push(info(r.schedule));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Removes a schedule (its occurrences already submitted go on); false when there was none. */
  async remove(name: string): Promise<boolean> {
    for (let tries = 0; tries < TRIES; tries++) {
      const cur = await this.read(name);
      if (cur === null) return false;
      try {
        await this.session.remove(schedulePath(this.paths, name), cur.version);
        return true;
      } catch (err) {
        if (err instanceof NoNodeError) return false;
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

  private async read(name: string): Promise<VersionedSchedule | null> {
    schedulePath(this.paths, name); // checks the name before any request
    const got = (await this.session.retrying(() => readSchedules(this.session, this.paths, [name]))).get(name) ?? null;
    if (got !== null && 'error' in got) throw new ScheduleValidationError('schedule', got.error);
    return got;
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
