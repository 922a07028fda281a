// The steady stream of submissions: single submits and bulk submitMany calls, paced so that
// `total` tasks are spread over `spreadMs`. A call that fails (connection loss, expiry, a lost
// quorum) is retried with the same ids: submission is idempotent by id, so a retry of a
// submission that did go through finds the task and does not create a second one.
import type { DroverClient } from '../../client/drover-client.js';
import type { SubmitInput } from '../../shared/protocol/task-record.js';
import type { Rng } from './prng.js';
import { sleep } from './util.js';

export interface SubmitterOptions {
  total: number;
  spreadMs: number;
  /** Handler sleep range per task. */
  taskMs: [number, number];
  /** Chance that a submission is a bulk one (5–20 tasks). */
  bulkChance: number;
}

export class Submitter {
  /** Ids whose submission was acknowledged, with the value each payload carries. */
  readonly acked = new Map<string, number>();
  /** When each id was first handed to a submit call: from then on the task is pending work. */
  readonly firstTriedAt = new Map<string, number>();
  /** Ids handed to a call that has not been acknowledged yet. */
  readonly pending = new Set<string>();
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

  /** Resolves once every task has been acknowledged (or stop() was called). */
  finished(): Promise<void> {
    return this.done ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
  }

  private input(i: number): SubmitInput {
    const [lo, hi] = this.opts.taskMs;
    return {
      type: 'work',
      id: `task-${String(i).padStart(6, '0')}`,
      payload: { value: i, ms: this.rng.int(lo, hi) },
      // Faults cost attempts (a lost worker, an aborted run): never let them exhaust a task.
      maxAttempts: 100,
      backoff: { initialMs: 100, factor: 2, maxMs: 1000 },
      // A backstop only: handlers take well under a second.
      timeoutMs: 20_000,
    };
  }

  private async run(): Promise<void> {
    const t0 = this.startedAt;
    let next = 0;
    while (next < this.opts.total && !this.stopped) {
      const due = Math.ceil((this.opts.total * (Date.now() - t0)) / this.spreadMs);
      if (next >= due) {
        await sleep(20);
        continue;
      }
      const bulk = this.rng.chance(this.opts.bulkChance);
      const n = bulk ? Math.min(this.rng.int(5, 20), this.opts.total - next) : 1;
      const inputs = Array.from({ length: n }, (_, k) => this.input(next + k));
      next += n;
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
