// Submitting tasks: each one a record and a queue entry in one multi, many in batched
// multis; idempotent by id, and safe to retry when a reply was lost.
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import { opsBytes, submitOps } from '../shared/protocol/task-ops.js';
import { newTaskRecord, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { ConnectionLossError, NodeExistsError, SessionExpiredError, ZkError } from '../shared/zk/errors.js';
import type { Op, ZkSession } from '../shared/zk/session.js';

export interface SubmitResult {
  id: string;
  /** False when a task with this id already existed (submission is idempotent by id). */
  created: boolean;
  record: TaskRecord;
}

const MAX_BATCH_BYTES = 400 * 1024;
const MAX_BATCH_TASKS = 200;

export class Submitter {
  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly limits: SizeLimits,
    private readonly log: Logger,
  ) {}

  submit(input: SubmitInput): Promise<SubmitResult> {
    return this.submitRecord(newTaskRecord(input, this.limits), false);
  }

  /**
   * `triedBefore`: an earlier multi carrying this very record may have gone through (its
   * reply was lost); finding the task with our createdAt then means we created it.
   */
  private async submitRecord(rec: TaskRecord, triedBefore: boolean): Promise<SubmitResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.multi(submitOps(this.paths, rec));
        this.log.debug({ taskId: rec.id, type: rec.type }, 'submitted');
        return { id: rec.id, created: true, record: rec };
      } catch (err) {
        if (err instanceof NodeExistsError && err.opIndex === 0) {
          const r = await readTask(this.session, this.paths, rec.id);
          if (r.kind !== 'ok') throw new Error(`task ${rec.id} exists but cannot be read (${r.kind})`);
          // Our own earlier try whose reply was lost carries our createdAt.
          return { id: rec.id, created: (triedBefore || attempt > 0) && r.record.createdAt === rec.createdAt, record: r.record };
        }
        // The connection, or after a long outage the session, is being re-established: a
        // submission holds nothing in the session, so it simply goes again once connected
        // (an earlier try that did go through is found above by its createdAt).
        if ((err instanceof ConnectionLossError || err instanceof SessionExpiredError) && attempt < 5) {
          await this.session.waitConnected().catch(() => undefined);
          continue;
        }
        throw err;
      }
    }
  }

  /** Submits many tasks in batched multis; returns one result per input, in order. */
  async submitMany(inputs: SubmitInput[]): Promise<SubmitResult[]> {
    const recs = inputs.map((i) => newTaskRecord(i, this.limits));
    const results: SubmitResult[] = new Array(recs.length);
    let i = 0;
    while (i < recs.length) {
      const start = i;
      const ops: Op[] = [];
      while (i < recs.length && i - start < MAX_BATCH_TASKS) {
        const o = submitOps(this.paths, recs[i]!);
        if (i > start && opsBytes(ops) + opsBytes(o) > MAX_BATCH_BYTES) break;
        ops.push(...o);
        i++;
      }
      try {
        await this.session.multi(ops);
        for (let k = start; k < i; k++) results[k] = { id: recs[k]!.id, created: true, record: recs[k]! };
      } catch (err) {
        if (!(err instanceof ZkError)) throw err;
        // A duplicate id (or an unknown outcome) in the batch: fall back to one by one, each idempotent.
        // The same records (same createdAt): a batch whose reply was lost is recognised as ours.
        for (let k = start; k < i; k++) results[k] = await this.submitRecord(recs[k]!, err instanceof ConnectionLossError || err instanceof SessionExpiredError);
      }
    }
    return results;
  }
}
