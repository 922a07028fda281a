// The steady stream of submissions: single submits and bulk submitMany calls, paced so that
// `total` tasks are spread over `spreadMs`. A call that fails (connection loss, expiry, a lost
// quorum) is retried with the same ids: submission is idempotent by id, so a retry of a
// submission that did go through finds the task and does not create a second one.
import type { DroverClient } from '../../client/drover-client.js';
import type { SubmitInput } from '../../shared/protocol/task-record.js';
import type { DagPlan } from './dag-traffic.js';
import type { Rng } from './prng.js';
import { sleep } from './util.js';

export interface SubmitterOptions {
  total: number;
  spreadMs: number;
  /** Handler sleep range per task. */
  taskMs: [number, number];
  /** Chance that a submission is a bulk one (5–20 tasks). */
  bulkChance: number;
  /**
   * Chance that a task outlasts the outages (handler sleep in `outlastMs`) with
   * `maxAttempts: 1`: an outage that cost it its one attempt would fail it.
   */
  outlastChance?: number;
  outlastMs?: [number, number];
  /** Chance that a task asks for the label only one worker carries (a lopsided mix). */
  labelledChance?: number;
  /** Graphs of dependent tasks (dag-traffic.ts), part of `total`, spread evenly through the stream. */
  dag?: DagPlan;
}

/** The label the lopsided share of tasks asks for; the cluster gives it to one worker. */
export const CHAOS_LABELS: Record<string, string> = { pool: 'gpu' };

export type TaskMix = 'plain' | 'outlast' | 'labelled' | 'dag';

export class Submitter {
  /** Ids whose submission was acknowledged, with the value each payload carries. */
  readonly acked = new Map<string, number>();
  /** When each id was first handed to a submit call: from then on the task is pending work. */
  readonly firstTriedAt = new Map<string, number>();
  /** Ids handed to a call that has not been acknowledged yet. */
  readonly pending = new Set<string>();
  /** Which share of the traffic each id belongs to. */
  readonly mix = new Map<string, TaskMix>();
  calls = { single: 0, bulk: 0 };
  errors = 0;
  /** Failed calls (retried) by error class. */
  readonly errorKinds: Record<string, number> = {};
  private stopped = false;
  private done?: Promise<void>;
  private startedAt = 0;
  private spreadMs: number;

  constructor(
    private readonly client: DroverClient,
    private readonly rng: Rng,
    private readonly opts: SubmitterOptions,
  ) {
    this.spreadMs = opts.spreadMs;
  }

  start(): void {
    this.startedAt = Date.now();
    this.done = this.run();
  }

  /** Keeps work coming until at least `at` (ms since epoch): the fault phase runs longer. */
  extendUntil(at: number): void {
    this.spreadMs = Math.max(this.spreadMs, at - this.startedAt);
  }

  /**
   * No more faults will start: the tasks left are due within `ms` from now (a pace, not a bound:
   * each submission is still awaited and retried, the last fault's damage possibly still being
   * repaired). The pace was set for a fault phase estimated at ~6 s a fault; kept, the tasks
   * left would trickle in for half a minute after the faults.
   */
  finishWithin(ms: number): void {
    this.spreadMs = Math.min(this.spreadMs, Date.now() - this.startedAt + ms);
  }

  /** Resolves once every task has been acknowledged (or stop() was called). */
  finished(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
  }

  private input(i: number): SubmitInput {
    const id = `task-${String(i).padStart(6, '0')}`;
    const draw = this.rng.next();
    const outlast = this.opts.outlastChance ?? 0;
    const labelled = this.opts.labelledChance ?? 0;
    if (draw < outlast) {
      // Longer than any outage, and one attempt only: attempts lost to infrastructure (a
      // killed or cut-off worker, a lost quorum) must not count, or these tasks fail.
      const [lo, hi] = this.opts.outlastMs ?? [8000, 12_000];
      this.mix.set(id, 'outlast');
      return { type: 'work', id, payload: { value: i, ms: this.rng.int(lo, hi) }, maxAttempts: 1, timeoutMs: 60_000 };
    }
    const [lo, hi] = this.opts.taskMs;
    this.mix.set(id, draw < outlast + labelled ? 'labelled' : 'plain');
    return {
      type: 'work',
      id,
      payload: { value: i, ms: this.rng.int(lo, hi) },
      // Handler failures never happen here; a small budget still shows that lost attempts are not counted.
      maxAttempts: 3,
      backoff: { initialMs: 100, factor: 2, maxMs: 1000 },
      // A backstop only: handlers take well under a second.
      timeoutMs: 20_000,
      ...(draw < outlast + labelled ? { labels: { ...CHAOS_LABELS } } : {}),
    };
  }

  private async run(): Promise<void> {
    const t0 = this.startedAt;
    const units = this.opts.dag?.units ?? [];
    const plainTotal = this.opts.total - (this.opts.dag?.taskCount ?? 0);
    let next = 0;
    let plain = 0;
    let unit = 0;
    while (next < this.opts.total && !this.stopped) {
      const due = Math.ceil((this.opts.total * (Date.now() - t0)) / this.spreadMs);
      if (next >= due) {
        await sleep(20);
        continue;
      }
      // Graph u goes at the (u + ½)/units point of the stream, or once the plain tasks are all out.
      const dagDue = unit < units.length && (plain >= plainTotal || next >= ((unit + 0.5) * this.opts.total) / units.length);
      let inputs: SubmitInput[];
      if (dagDue) {
        const base = next;
        const [lo, hi] = this.opts.taskMs;
        inputs = this.opts.dag!.inputs(units[unit++]!, (k) => base + k, () => this.rng.int(lo, hi));
        for (const i of inputs) this.mix.set(i.id!, 'dag');
      } else {
        const bulk = this.rng.chance(this.opts.bulkChance);
        const n = bulk ? Math.min(this.rng.int(5, 20), plainTotal - plain) : 1;
        inputs = Array.from({ length: n }, (_, k) => this.input(next + k));
        plain += n;
      }
      next += inputs.length;
      await this.submit(inputs);
    }
  }

  private async submit(inputs: SubmitInput[]): Promise<void> {
    const now = Date.now();
    for (const i of inputs) {
      this.pending.add(i.id!);
      this.firstTriedAt.set(i.id!, now);
    }
    for (let tries = 0; !this.stopped; tries++) {
      try {
        if (inputs.length === 1) {
          this.calls.single += 1;
          await this.client.submit(inputs[0]!);
        } else {
          this.calls.bulk += 1;
          await this.client.submitMany(inputs);
        }
        for (const i of inputs) {
          this.pending.delete(i.id!);
          this.acked.set(i.id!, (i.payload as { value: number }).value);
        }
        return;
      } catch (err) {
        this.errors += 1;
        const kind = (err as Error).name || 'Error';
        this.errorKinds[kind] = (this.errorKinds[kind] ?? 0) + 1;
        await sleep(Math.min(1000, 50 * 2 ** tries));
      }
    }
  }
}
