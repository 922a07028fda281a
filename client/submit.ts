// Submitting tasks: each one a record and a queue entry in one multi, many in batched
// multis; idempotent by id, and safe to retry when a reply was lost. A task with dependsOn
// is a waiting record with its parents (dag-ops.ts), submitted after its parents.
import type { Logger } from '../shared/log.js';
import { checkKnownFields } from './input-fields.js';
import type { Paths } from '../shared/protocol/paths.js';
import { newTaskRecord, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { BATCH_LIMITS, assertFits } from '../shared/protocol/task-ops.js';
import { dependentSubmitOps } from '../shared/protocol/dag-ops.js';
import { PARENT_CHUNK } from '../shared/protocol/dag-paths.js';
import { readTask } from '../shared/protocol/task-store.js';
import { submit } from '../shared/protocol/transitions.js';
import { DagPaths, edgesFirst, submitDagBatch, tooBigWithEdges, type DagItem } from '../shared/protocol/client-transitions.js';
import { ensureDagDirs } from '../shared/protocol/dag-reads.js';
import type { Verdict } from '../shared/protocol/multi.js';
import type { ZkSession } from '../shared/zk/session.js';
import { checkParentsKnown, topoOrder } from './dag-submit.js';

export interface SubmitResult {
  id: string;
  /** False when a task with this id already existed (submission is idempotent by id). */
  created: boolean;
  record: TaskRecord;
}

export interface SubmitManyOptions {
  /** After each batch: how many of the inputs are submitted so far (the first n, when every
   *  task comes after the tasks of the call it depends on; else n in that order, parents first). */
  onSubmitted?: (n: number) => void;
}

/** The record a submission makes; a field no task has is refused first (the types refuse it too, but not JS or a cast). */
function recordOf(input: SubmitInput, limits: SizeLimits, where = ''): TaskRecord {
  if (input !== null && typeof input === 'object') checkKnownFields(input, where);
  return newTaskRecord(input, limits);
}

export class Submitter {
  private readonly dag: DagPaths;
  private dagDirs?: Promise<void>;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly limits: SizeLimits,
    private readonly log: Logger,
  ) {
    this.dag = new DagPaths(paths);
  }

  async submit(input: SubmitInput): Promise<SubmitResult> {
    const rec = recordOf(input, this.limits);
    if (rec.dependsOn) return (await this.submitMany([input]))[0]!;
    return this.submitRecord({ rec, parents: [], edges: false }, false);
  }

  /** dag/ is made on first use, once per client (a failure is tried again next time). */
  private ensureDag(): Promise<void> {
    this.dagDirs ??= ensureDagDirs(this.session, this.dag).catch((err: unknown) => {
      this.dagDirs = undefined;
      throw err;
    });
    return this.dagDirs;
  }

  /**
   * `triedBefore`: an earlier multi carrying this very record may have gone through (its
   * reply was lost); finding the task with our createdAt then means we created it.
   */
  private async submitRecord(item: DagItem, triedBefore: boolean): Promise<SubmitResult> {
    const { rec } = item;
    const tx = { session: this.session, paths: this.paths };
    for (let attempt = 0; ; attempt++) {
      const v: Verdict = item.parents.length === 0 ? await submit(tx, rec) : await submitDagBatch(tx, this.dag, [item], 0, BATCH_LIMITS);
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
        await this.waitConnected();
        continue;
      }
      throw v.error;
    }
  }

  private waitConnected(): Promise<void> {
    return this.session.waitConnected().catch(() => undefined);
  }

  /**
   * Submits many tasks in batched multis; returns one result per input, in order. With
   * dependencies, everything is checked before anything is written (unknown parents, cycles)
   * and the batches go parents first.
   */
  async submitMany(inputs: readonly SubmitInput[], opts: SubmitManyOptions = {}): Promise<SubmitResult[]> {
    const recs = inputs.map((input, i) => recordOf(input, this.limits, inputs.length > 1 ? `input ${i}: ` : ''));
    const items: DagItem[] = recs.map((rec, i) => ({ rec, parents: rec.dependsOn ? inputs[i]!.dependsOn! : [], edges: true }));
    let order = recs.map((_, i) => i);
    if (items.some((it) => it.parents.length > 0)) {
      const ids = recs.map((r) => r.id);
      order = topoOrder(
        ids,
        items.map((it) => it.parents),
      );
      // A wide fan-in's record, parents node and chunks go in one multi: it must fit one request (ids ≤ ~90 characters for 10 000 parents).
      for (const it of items) if (it.parents.length > PARENT_CHUNK) assertFits({ ops: dependentSubmitOps(this.dag, it.rec, it.parents) }, `the submit of task ${it.rec.id} with its ${it.parents.length} parent ids`);
      await checkParentsKnown(this.session, this.paths, inputs, ids);
      await this.ensureDag();
    }
    const sorted = order.map((i) => items[i]!);
    const results: SubmitResult[] = new Array(recs.length);
    const tx = { session: this.session, paths: this.paths };
    let i = 0;
    while (i < sorted.length) {
      const start = i;
      const first = sorted[start]!;
      if (first.edges && tooBigWithEdges(this.dag, first, BATCH_LIMITS.maxBytes)) {
        // A fan-in too wide for one multi with its edges: the edges go before, the record alone.
        await edgesFirst(tx, this.dag, first.rec.id, first.parents, BATCH_LIMITS.maxBytes, () => this.waitConnected());
        sorted[start] = { ...first, edges: false };
      }
      const v = await submitDagBatch(tx, this.dag, sorted, start, BATCH_LIMITS);
      i = start + v.taken;
      if (v.kind === 'committed') {
        for (let k = start; k < i; k++) results[order[k]!] = { id: sorted[k]!.rec.id, created: true, record: sorted[k]!.rec };
      }
      // A duplicate id (or an unknown outcome) in the batch: fall back to one by one, each idempotent.
      // The same records (same createdAt): a batch whose reply was lost is recognised as ours.
      else for (let k = start; k < i; k++) results[order[k]!] = await this.submitRecord(sorted[k]!, v.kind === 'unknown');
      opts.onSubmitted?.(i);
    }
    return results;
  }
}
