// The schedule share of the chaos traffic: schedules firing every second (catch-up, max large
// enough for any leader outage of the run), added before the faults and paused at their end.
// A pause is a CAS on the schedule's znode and every occurrence multi sets that znode at the
// version it read, so once the pause is written the cursor is final: the occurrences are
// exactly the cron's times in (createdAt, cursor], each its own task sched.<name>.<ms>.
import { ScheduleValidationError, type ScheduleApi, type ScheduleSpec } from '../../client/schedules.js';
import { MAX_CATCH_UP_MAX } from '../../shared/protocol/schedule.js';
import { sleep } from './util.js';

export interface ChaosSchedule {
  name: string;
  spec: ScheduleSpec;
  /** The payload value each occurrence carries (its result doubles it). */
  value: number;
}

export const CHAOS_SCHEDULES: ChaosSchedule[] = [
  { name: 'chaos-every-second', value: 1_000_001, spec: { cron: '* * * * * *', type: 'work', payload: { value: 1_000_001, ms: 50 }, maxAttempts: 3, timeoutMs: 20_000, misfire: { policy: 'catch-up', max: MAX_CATCH_UP_MAX } } },
  { name: 'chaos-every-3s-utc', value: 1_000_002, spec: { cron: '*/3 * * * * *', tz: 'UTC', type: 'work', payload: { value: 1_000_002, ms: 150 }, maxAttempts: 3, timeoutMs: 20_000, misfire: { policy: 'catch-up', max: MAX_CATCH_UP_MAX } } },
];

/** Retries `fn` through the faults (a lost quorum, a killed server) until `timeoutMs`. */
async function persist<T>(what: string, fn: () => Promise<T>, timeoutMs: number, say: (l: string) => void): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let tries = 0; ; tries++) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`);
      if (tries === 0) say(`[schedules] ${what} failed (${(err as Error).message}); retrying`);
      await sleep(Math.min(1000, 50 * 2 ** tries));
    }
  }
}

export class ScheduleTraffic {
  /** Problems adding or pausing (the checker reports them as failures). */
  readonly problems: string[] = [];
  private added: ChaosSchedule[] = [];

  constructor(
    private readonly api: ScheduleApi,
    private readonly say: (line: string) => void,
    readonly schedules: ChaosSchedule[] = CHAOS_SCHEDULES,
  ) {}

  /** The schedules that were added (and so must be checked). */
  get active(): ChaosSchedule[] {
    return this.added;
  }

  async start(): Promise<void> {
    for (const s of this.schedules) {
      try {
        // The root is new: a schedule of this name that exists is our own earlier try's (not a
        // replace, which would move its cursor and createdAt past occurrences already submitted).
        const add = async () => {
          try {
            return await this.api.add(s.name, s.spec);
          } catch (err) {
            const mine = err instanceof ScheduleValidationError && /exists already/.test(err.message) ? await this.api.get(s.name) : null;
            if (mine) return mine;
            throw err;
          }
        };
        await persist(`adding schedule ${s.name}`, add, 30_000, this.say);
        this.added.push(s);
      } catch (err) {
        this.problems.push((err as Error).message);
      }
    }
  }

  /** Pauses every schedule: from then on its cursor does not move. */
  async stop(): Promise<void> {
    for (const s of this.added) {
      try {
        await persist(`pausing schedule ${s.name}`, () => this.api.pause(s.name), 60_000, this.say);
      } catch (err) {
        this.problems.push((err as Error).message);
      }
    }
  }
}
