// Submitting tasks: each one a record and a queue entry in one multi, many in batched
// multis; idempotent by id, and safe to retry when a reply was lost. A task with dependsOn
// is a waiting record with its parents (dag-ops.ts), submitted after its parents.
import type { Logger } from '../shared/log.js';
import { checkKnownFields } from './input-fields.js';
import type { Paths } from '../shared/protocol/paths.js';
import { newTaskRecord, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { BATCH_LIMITS } from '../shared/protocol/task-ops.js';
import { readTask } from '../shared/protocol/task-store.js';
import { submit } from '../shared/protocol/transitions.js';
import { DagPaths, submitDagBatch, tooBigWithEdges, type DagItem } from '../shared/protocol/client-transitions.js';
import { ensureChildDirs, ensureDagDirs } from '../shared/protocol/dag-reads.js';
import type { Verdict } from '../shared/protocol/multi.js';
import type { ZkSession } from '../shared/zk/session.js';
import { checkParentsKnown, topoOrder } from './dag-submit.js';
import { clearOrphan, submitWide } from './dag-submit-wide.js';

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
    return this.submitRecord({ rec, parents: [] }, false);
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
   * Makes the reverse-edge directories a multi writes into, once per call (1 create a distinct
   * parent, NodeExists fine): just before the multi, so a resubmission of existing tasks, refused
   * at its records, makes none of a parent it does not name already.
   */
  private childDirs(made: Set<string>): (parents: Iterable<string>) => Promise<void> {
    return async (parents) => {
      const todo = [...parents].filter((p) => !made.has(p));
      await ensureChildDirs(this.session, this.dag, todo);
      for (const p of todo) made.add(p);
    };
  }

  /**
   * `triedBefore`: an earlier multi carrying this very record may have gone through (its
   * reply was lost); finding the task with our createdAt then means we created it.
   */
  private async submitRecord(item: DagItem, triedBefore: boolean, made = new Set<string>()): Promise<SubmitResult> {
    const { rec } = item;
    const tx = { session: this.session, paths: this.paths };
    const again = () => this.waitConnected();
    for (let attempt = 0; ; attempt++) {
      let v: Verdict | 'exists';
      if (item.parents.length === 0) v = await submit(tx, rec);
      else if (tooBigWithEdges(this.dag, item, BATCH_LIMITS.maxBytes)) v = (await submitWide(tx, this.dag, item, BATCH_LIMITS.maxBytes, again, this.childDirs(made))) === 'committed' ? { kind: 'committed' } : 'exists';
      else v = await submitDagBatch(tx, this.dag, [item], 0, BATCH_LIMITS, this.childDirs(made));
      if (v !== 'exists' && v.kind === 'committed') {
        this.log.debug({ taskId: rec.id, type: rec.type }, 'submitted');
        return { id: rec.id, created: true, record: rec };
      }
      // A parents node or waiting entry without its record (a failed try, a purge cut short): cleared, then again.
      if (v !== 'exists' && v.kind === 'moved' && v.part !== 'record' && v.code === 'NODE_EXISTS' && item.parents.length > 0 && attempt < 5) {
        if ((await clearOrphan(tx, this.dag, rec.id, again)) === 'clear') continue;
        v = 'exists';
      }
      if (v === 'exists' || (v.kind === 'moved' && v.part === 'record' && v.code === 'NODE_EXISTS')) {
        const r = await readTask(this.session, this.paths, rec.id);
        if (r.kind !== 'ok') throw new Error(`task ${rec.id} exists but cannot be read (${r.kind})`);
        // Our own earlier try whose reply was lost carries our createdAt.
        return { id: rec.id, created: (triedBefore || attempt > 0 || v === 'exists') && r.record.createdAt === rec.createdAt, record: r.record };
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
    const items: DagItem[] = recs.map((rec, i) => ({ rec, parents: rec.dependsOn ? inputs[i]!.dependsOn! : [] }));
    let order = recs.map((_, i) => i);
    if (items.some((it) => it.parents.length > 0)) {
      const ids = recs.map((r) => r.id);
      order = topoOrder(
        ids,
        items.map((it) => it.parents),
      );
      await checkParentsKnown(this.session, this.paths, inputs, ids);
      await this.ensureDag();
    }
    const sorted = order.map((i) => items[i]!);
    const results: SubmitResult[] = new Array(recs.length);
    const tx = { session: this.session, paths: this.paths };
    const made = new Set<string>(); // reverse-edge directories made by this call
    let i = 0;
    while (i < sorted.length) {
      const start = i;
      const first = sorted[start]!;
      if (tooBigWithEdges(this.dag, first, BATCH_LIMITS.maxBytes)) {
        // A fan-in too wide for one multi with its parents and edges: alone, in steps (dag-submit-wide.ts).
        results[order[start]!] = await this.submitRecord(first, false, made);
        i++;
        opts.onSubmitted?.(i);
        continue;
      }
      const v = await submitDagBatch(tx, this.dag, sorted, start, BATCH_LIMITS, this.childDirs(made));
      i = start + v.taken;
      if (v.kind === 'committed') {
        for (let k = start; k < i; k++) results[order[k]!] = { id: sorted[k]!.rec.id, created: true, record: sorted[k]!.rec };
      }
      // A duplicate id (or an unknown outcome) in the batch: fall back to one by one, each idempotent.
      // The same records (same createdAt): a batch whose reply was lost is recognised as ours.
      else for (let k = start; k < i; k++) results[order[k]!] = await this.submitRecord(sorted[k]!, v.kind === 'unknown', made);
      opts.onSubmitted?.(i);
    }
    return results;
  }
}
