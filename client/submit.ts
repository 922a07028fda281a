// Submitting tasks: each one a record and a queue entry in one multi, many in batched
// multis; idempotent by id, and safe to retry when a reply was lost.
import type { Logger } from '../shared/log.js';
import { checkKnownFields } from './input-fields.js';
import type { Paths } from '../shared/protocol/paths.js';
import { newTaskRecord, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { BATCH_LIMITS } from '../shared/protocol/task-ops.js';
import { readTask } from '../shared/protocol/task-store.js';
import { submit, submitBatch } from '../shared/protocol/transitions.js';
import type { ZkSession } from '../shared/zk/session.js';

export interface SubmitResult {
  id: string;
  /** False when a task with this id already existed (submission is idempotent by id). */
  created: boolean;
  record: TaskRecord;
}

export interface SubmitManyOptions {
  /** After each batch: how many of the inputs (the first n) are submitted so far. */
  onSubmitted?: (n: number) => void;
}

/** The record a submission makes; a field no task has is refused first (the types refuse it too, but not JS or a cast). */
function recordOf(input: SubmitInput, limits: SizeLimits, where = ''): TaskRecord {
  if (input !== null && typeof input === 'object') checkKnownFields(input, where);
  return newTaskRecord(input, limits);
}

export class Submitter {
  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly limits: SizeLimits,
    private readonly log: Logger,
  ) {}

  submit(input: SubmitInput): Promise<SubmitResult> {
    return this.submitRecord(recordOf(input, this.limits), false);
  }

  /**
   * `triedBefore`: an earlier multi carrying this very record may have gone through (its
   * reply was lost); finding the task with our createdAt then means we created it.
   */
  private async submitRecord(rec: TaskRecord, triedBefore: boolean): Promise<SubmitResult> {
    const tx = { session: this.session, paths: this.paths };
    for (let attempt = 0; ; attempt++) {
      const v = await submit(tx, rec);
      if (v.kind === 'committed') {
        this.log.debug({ taskId: rec.id, type: rec.type }, 'submitted');
        return { id: rec.id, created: true, record: rec };
      }
      if (v.kind === 'moved' && v.part === 'record' && v.code === 'NODE_EXISTS') {
        const r = await readTask(this.session, this.paths, rec.id);
        if (r.kind !== 'ok') throw new Error(`task ${rec.id} exists but cannot be read (${r.kind})`);
        // Our own earlier try whose reply was lost carries our createdAt.
        return { id: rec.id, created: (triedBefore || attempt > 0) && r.record.createdAt === rec.createdAt, record: r.record };
      }
      // The connection, or after a long outage the session, is being re-established: a
      // submission holds nothing in the session, so it simply goes again once connected
      // (an earlier try that did go through is found above by its createdAt).
      if (v.kind === 'unknown' && attempt < 5) {
        await this.session.waitConnected().catch(() => undefined);
        continue;
      }
      throw v.error;
    }
  }

  /** Submits many tasks in batched multis; returns one result per input, in order. */
  async submitMany(inputs: readonly SubmitInput[], opts: SubmitManyOptions = {}): Promise<SubmitResult[]> {
    const recs = inputs.map((input, i) => recordOf(input, this.limits, inputs.length > 1 ? `input ${i}: ` : ''));
    const results: SubmitResult[] = new Array(recs.length);
    const tx = { session: this.session, paths: this.paths };
    let i = 0;
    while (i < recs.length) {
      const start = i;
      const v = await submitBatch(tx, recs, start, BATCH_LIMITS);
      i = start + v.taken;
      if (v.kind === 'committed') {
        for (let k = start; k < i; k++) results[k] = { id: recs[k]!.id, created: true, record: recs[k]! };
      }
      // A duplicate id (or an unknown outcome) in the batch: fall back to one by one, each idempotent.
      // The same records (same createdAt): a batch whose reply was lost is recognised as ours.
      else for (let k = start; k < i; k++) results[k] = await this.submitRecord(recs[k]!, v.kind === 'unknown');
      opts.onSubmitted?.(i);
    }
    return results;
  }
}
