// A cron schedule as it lives in <root>/schedules/<name> (one persistent znode each): its spec,
// whether it is paused, and its cursor, the scheduled time of the last occurrence handled
// (submitted or skipped). Pure: the codec, the checks, and cron evaluation (croner). What the
// leader does with a schedule (which occurrences to submit, skip) is schedule-plan.ts; its
// writes are schedule-ops.ts.
//
// A removed schedule's znode is not deleted: it becomes a tombstone ({removed: true}), and an
// add over it is a setData at its version. Its version thus never starts again at 0, so a
// leader's write at a version it read of the old schedule can never land on the new one (ABA).
// Reads treat a tombstone as absent. The leader deletes one once TOMBSTONE_TTL_MS old (a fenced
// multi at its version, between passes' steps): a client's retry after a lost reply has found
// it by then, and no leader holds a version of the schedule it replaced (it read the tombstone).
//
// An occurrence's task id is `sched.<name>.<scheduled ms>`: the same occurrence is the same
// task whoever submits it, so a leader after a failover can neither repeat nor skip one.
import { randomUUID } from 'node:crypto';
import { Cron } from 'croner';
import { DEFAULT_LIMITS, jsonBytes, newTaskRecord, TaskValidationError, type SizeLimits, type TaskRecord } from './task-record.js';

export const SCHEDULE_FORMAT = 1;
export const SCHEDULE_NAME_RE = /^[A-Za-z0-9_.-]{1,100}$/;
/** Occurrences at most submitted by one catch-up of a schedule (after a leaderless spell). */
export const DEFAULT_CATCH_UP_MAX = 10;
export const MAX_CATCH_UP_MAX = 1000;
/**
 * An occurrence's multi holds the payload twice (the task record and the schedule's own
 * znode), and reads of schedules pack several a reply: capped at 64 KiB whatever the
 * client's maxPayloadBytes.
 */
export const MAX_SCHEDULE_PAYLOAD_BYTES = 64 * 1024;
/** A whole schedule as stored (payload, cron, labels, ...): an occurrence's multi stays < 200 KiB. */
export const MAX_SCHEDULE_BYTES = 96 * 1024;
/** Age (by its removedAt) at which the leader deletes a tombstone. */
export const TOMBSTONE_TTL_MS = 60_000;
/** Longer expressions are no cron anyone writes (croner takes seconds on megabytes). */
export const MAX_CRON_CHARS = 256;

export type MisfirePolicy = 'skip' | 'catch-up';

export interface Misfire {
  policy: MisfirePolicy;
  /** catch-up: the most recent `max` missed occurrences are submitted; older ones are counted skipped. */
  max: number;
}

/** What a caller gives to add a schedule. */
export interface ScheduleSpec {
  /** 5 fields (minute resolution) or 6 (seconds first), croner's syntax. */
  cron: string;
  /** IANA zone the expression is read in (default: the adding process's zone, stored with it). */
  tz?: string;
  type: string;
  payload?: unknown;
  priority?: number;
  labels?: Record<string, string>;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Default {policy: 'skip', max: 10}; a string is the policy with the default max. */
  misfire?: MisfirePolicy | { policy: MisfirePolicy; max?: number };
  /** Added paused: fires nothing until resumed. */
  paused?: boolean;
}

export interface Schedule {
  format: typeof SCHEDULE_FORMAT;
  name: string;
  cron: string;
  /** Set at add (the adder's zone when none was given); absent only in schedules of older drovers (the reader's zone). */
  tz?: string;
  type: string;
  payload: unknown;
  priority?: number;
  labels?: Record<string, string>;
  maxAttempts?: number;
  timeoutMs?: number;
  misfire: Misfire;
  paused: boolean;
  createdAt: number;
  /** Random, set at each add: tells one add's schedule from another's of the same name (a lost reply's retry). */
  incarnation: string;
  /** Scheduled time (ms) of the last occurrence submitted or skipped; at creation, the creation time. */
  cursor: number;
  /** Occurrences skipped so far: missed under `skip`, past `max` under `catch-up`, or while paused. */
  skipped: number;
  /** When it was paused (ms), while paused. */
  pausedAt?: number;
}

export class ScheduleValidationError extends TaskValidationError {
  override name = 'ScheduleValidationError';
}

export class ScheduleNotFoundError extends Error {
  override name = 'ScheduleNotFoundError';
  constructor(readonly scheduleName: string) {
    super(`no schedule ${scheduleName}`);
  }
}

/** Whether `name` can be a schedule's (a child of schedules/ that is not, someone else made). */
export function isScheduleName(name: unknown): name is string {
  return typeof name === 'string' && SCHEDULE_NAME_RE.test(name) && name !== '.' && name !== '..';
}

export function assertScheduleName(name: unknown): asserts name is string {
  if (!isScheduleName(name)) {
    throw new ScheduleValidationError('name', `invalid schedule name ${JSON.stringify(name)}: use 1-100 characters of A-Z a-z 0-9 _ . -`);
  }
}

/**
 * Where schedule `name` lives. (Paths has `schedules` only; this belongs in paths.ts as
 * `Paths.schedule(name)`, built here until its owner adds it.)
 */
export function schedulePath(paths: { schedules: string }, name: string): string {
  assertScheduleName(name);
  return `${paths.schedules}/${name}`;
}

/** The task id of the occurrence of `name` scheduled at `at` (≤ 120 characters: a valid task id). */
export function occurrenceId(name: string, at: number): string {
  return `sched.${name}.${at}`;
}

/**
 * The evaluator of a stored schedule's expression, without cronOf's checks of the zone and that
 * it ever fires (the leader's path: those cost ~0.3 ms a schedule, and its first evaluation
 * shows a bad zone; none ever again is a next of null).
 */
export function parseCron(cron: string, tz: string | undefined): Cron {
  checkCronLength(cron);
  return new Cron(cron, { paused: true, ...(tz === undefined ? {} : { timezone: tz }) });
}

function checkCronLength(cron: string): void {
  if (cron.length > MAX_CRON_CHARS) throw new ScheduleValidationError('cron', `a cron expression is at most ${MAX_CRON_CHARS} characters, got ${cron.length}`);
}

/** Checks a cron expression and zone (croner), naming the problem; returns the evaluator. */
export function cronOf(cron: unknown, tz?: unknown): Cron {
  if (typeof cron !== 'string' || cron.trim() === '') throw new ScheduleValidationError('cron', 'a schedule needs a cron expression (e.g. "*/5 * * * *")');
  checkCronLength(cron);
  if (tz !== undefined) {
    if (typeof tz !== 'string' || tz === '') throw new ScheduleValidationError('tz', `invalid time zone ${JSON.stringify(tz)}`);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
    } catch {
      throw new ScheduleValidationError('tz', `unknown time zone ${JSON.stringify(tz)}: use an IANA name such as Europe/Berlin or UTC`);
    }
  }
  try {
    const c = parseCron(cron, tz as string | undefined);
    // Some faults (a zone croner cannot use) show only when evaluated; so does a date that never comes (Feb 30).
    if (c.nextRun(new Date()) === null) throw new Error('it never fires');
    return c;
  } catch (err) {
    throw new ScheduleValidationError('cron', `invalid cron expression ${JSON.stringify(cron)}: ${(err as Error).message.replace(/^CronPattern: /, '')}`);
  }
}

/** The first occurrence strictly after `after` (ms), or null when there is none. */
export function nextOccurrence(c: Cron, after: number): number | null {
  return c.nextRun(new Date(after))?.getTime() ?? null;
}

function misfireOf(m: ScheduleSpec['misfire']): Misfire {
  const given = typeof m === 'string' ? { policy: m } : (m ?? { policy: 'skip' as const });
  if (given.policy !== 'skip' && given.policy !== 'catch-up') {
    throw new ScheduleValidationError('misfire', `misfire policy must be skip or catch-up, got ${JSON.stringify(given.policy)}`);
  }
  const max = 'max' in given && given.max !== undefined ? given.max : DEFAULT_CATCH_UP_MAX;
  if (!Number.isInteger(max) || max < 1 || max > MAX_CATCH_UP_MAX) {
    throw new ScheduleValidationError('misfire.max', `catch-up max must be an integer in 1..${MAX_CATCH_UP_MAX}, got ${typeof max === 'number' ? String(max) : JSON.stringify(max)}`);
  }
  return { policy: given.policy, max };
}

/**
 * A new schedule from a spec, every field checked: the cron expression and zone by croner, the
 * task fields by the task's own rules (newTaskRecord of a first occurrence), so a schedule that
 * is stored can always submit its occurrences.
 */
export function newSchedule(name: string, spec: ScheduleSpec, now = Date.now(), limits: SizeLimits = DEFAULT_LIMITS): Schedule {
  assertScheduleName(name);
  if (spec === null || typeof spec !== 'object') throw new ScheduleValidationError('schedule', 'a schedule must be an object');
  // Without a zone, the adder's own: every leader reads the expression alike (masters may sit in other zones).
  const tz = spec.tz ?? localZone();
  cronOf(spec.cron, tz);
  const s: Schedule = {
    format: SCHEDULE_FORMAT,
    name,
    cron: spec.cron,
    tz,
    type: spec.type,
    payload: spec.payload === undefined ? null : spec.payload,
    ...(spec.priority === undefined ? {} : { priority: spec.priority }),
    ...(spec.labels === undefined ? {} : { labels: spec.labels }),
    ...(spec.maxAttempts === undefined ? {} : { maxAttempts: spec.maxAttempts }),
    ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
    misfire: misfireOf(spec.misfire),
    paused: spec.paused === true,
    ...(spec.paused === true ? { pausedAt: now } : {}),
    createdAt: now,
    incarnation: randomUUID(),
    cursor: now,
    skipped: 0,
  };
  occurrenceRecord(s, now, now, limits); // throws a TaskValidationError naming a bad task field
  const bytes = jsonBytes(s.payload);
  if (bytes > MAX_SCHEDULE_PAYLOAD_BYTES) throw new ScheduleValidationError('payload', `a schedule's payload is ${bytes} bytes as JSON, over the ${MAX_SCHEDULE_PAYLOAD_BYTES}-byte limit`);
  const total = encodeSchedule(s).length;
  if (total > MAX_SCHEDULE_BYTES) throw new ScheduleValidationError('schedule', `a schedule is ${total} bytes as stored, over the ${MAX_SCHEDULE_BYTES}-byte limit`);
  return s;
}

/** This process's IANA zone ("UTC" when it has none). */
export function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The task record of the occurrence of `s` scheduled at `at`, submitted at `now`. */
export function occurrenceRecord(s: Schedule, at: number, now: number, limits: SizeLimits = DEFAULT_LIMITS): TaskRecord {
  return newTaskRecord(
    {
      id: occurrenceId(s.name, at),
      type: s.type,
      payload: s.payload,
      ...(s.priority === undefined ? {} : { priority: s.priority }),
      ...(s.labels === undefined ? {} : { labels: s.labels }),
      ...(s.maxAttempts === undefined ? {} : { maxAttempts: s.maxAttempts }),
      ...(s.timeoutMs === undefined ? {} : { timeoutMs: s.timeoutMs }),
    },
    limits,
    now,
  );
}

export function encodeSchedule(s: Schedule): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8');
}

/** What a removed schedule's znode holds (see the header). */
export interface ScheduleTombstone {
  format: typeof SCHEDULE_FORMAT;
  name: string;
  removed: true;
  removedAt: number;
}

export function encodeTombstone(name: string, now: number): Buffer {
  const t: ScheduleTombstone = { format: SCHEDULE_FORMAT, name, removed: true, removedAt: now };
  return Buffer.from(JSON.stringify(t), 'utf8');
}

/** Parses a schedule znode (or its tombstone); throws a ScheduleValidationError for one this drover cannot use. */
export function decodeSchedule(data: Buffer, name: string): Schedule | ScheduleTombstone {
  let s: Schedule;
  try {
    s = JSON.parse(data.toString('utf8')) as Schedule;
  } catch (err) {
    throw new ScheduleValidationError('schedule', `schedule ${name} is not JSON: ${(err as Error).message}`);
  }
  if (s === null || typeof s !== 'object' || s.format !== SCHEDULE_FORMAT || s.name !== name) {
    throw new ScheduleValidationError('schedule', `schedule ${name} has an unknown format`);
  }
  const t = s as unknown as ScheduleTombstone;
  if (t.removed === true) return { format: SCHEDULE_FORMAT, name, removed: true, removedAt: Number.isFinite(t.removedAt) ? t.removedAt : 0 };
  if (!Number.isFinite(s.cursor) || !Number.isFinite(s.skipped) || typeof s.paused !== 'boolean' || !s.misfire) {
    throw new ScheduleValidationError('schedule', `schedule ${name} lacks its cursor, counters or policy`);
  }
  return s;
}
