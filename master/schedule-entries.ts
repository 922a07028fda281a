// The scheduler's bookkeeping of the schedules it holds (scheduler.ts): each usable schedule
// read, its parsed cron and next occurrence, and the echoes its own writes will cause. A read
// is applied here (a tombstone forgets it, a schedule it cannot use is logged once per version
// and left alone until changed); the scheduler steps what is due and writes.
import type { Cron } from 'croner';
import type { Logger } from '../shared/log.js';
import { nextOccurrence, parseCron } from '../shared/protocol/schedule.js';
import type { VersionedSchedule } from '../shared/protocol/schedule-ops.js';
import type { ReadSchedule } from '../shared/protocol/schedule-reads.js';
import type { Tombstones } from './schedule-tombstones.js';
import { yieldToIo } from '../shared/util/coalescer.js';

/** Schedules applied between yields to the event loop (each ~0.2-0.5 ms with a zone: a slice ≤ ~25 ms). */
const APPLY_SLICE = 50;

export interface Entry {
  vs: VersionedSchedule;
  cron: Cron;
  /** The next occurrence after the cursor (Infinity: paused, unusable, or none ever again). */
  nextAt: number;
  /** Change events our own committed writes will still cause (skipped, not re-read). */
  echoes: number;
}

/** The next occurrence of a schedule after its cursor (Infinity when paused or none again). */
export function setNext(e: Entry): void {
  const s = e.vs.schedule;
  e.nextAt = s.paused ? Infinity : (nextOccurrence(e.cron, s.cursor) ?? Infinity);
}

export class ScheduleEntries {
  private readonly map = new Map<string, Entry>();
  /** Unusable schedules already logged (name@version): logged once each. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly tombstones: Tombstones,
  ) {}

  get(name: string): Entry | undefined {
    return this.map.get(name);
  }
  clear(): void {
    this.map.clear();
  }
  /** The names whose next occurrence is at or before `at`. */
  due(at: number): string[] {
    return [...this.map].filter(([, e]) => e.nextAt <= at).map(([name]) => name);
  }
  /** Schedules held that are not paused (the drover_schedules gauge: O(schedules), at a scrape). */
  active(): number {
    let n = 0;
    for (const e of this.map.values()) if (!e.vs.schedule.paused) n++;
    return n;
  }
  /** The earliest next occurrence of all (Infinity: none). */
  earliest(): number {
    let earliest = Infinity;
    for (const e of this.map.values()) if (e.nextAt < earliest) earliest = e.nextAt;
    return earliest;
  }

  /** Applies reads, yielding every APPLY_SLICE (10 000 schedules at takeover: no multi-second stall). */
  async applyAll(got: Map<string, ReadSchedule>): Promise<void> {
    let n = 0;
    for (const [name, r] of got) {
      if (++n % APPLY_SLICE === 0) await yieldToIo();
      this.apply(name, r);
    }
  }

  private apply(name: string, r: ReadSchedule): void {
    this.tombstones.note(name, r);
    if (r === null || 'removed' in r) return void this.map.delete(name); // a tombstone: removed
    if ('error' in r) return this.unusable(name, r.version, r.error);
    try {
      const cron = parseCron(r.schedule.cron, r.schedule.tz);
      // Echoes still due of our writes are kept (a full read cleared the map: none).
      const entry: Entry = { vs: r, cron, nextAt: Infinity, echoes: this.map.get(name)?.echoes ?? 0 };
      this.map.set(name, entry);
      setNext(entry);
    } catch (err) {
      this.unusable(name, r.version, (err as Error).message);
    }
  }

  unusable(name: string, version: number, why: string): void {
    this.map.delete(name);
    const key = `${name}@${version}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn({ schedule: name, err: why }, 'schedule cannot be used; left alone until changed');
  }
}
