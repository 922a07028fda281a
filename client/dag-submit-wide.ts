// A dependent task too wide for one multi with its parents and reverse edges (a fan-in of
// thousands): its parents node and chunks go first in multis ≤ maxBytes, then its reverse
// edges (edgesFirst), then the record and its waiting entry in one last multi. Until that last
// multi the leader sees nothing (it lists only dag/waiting): a try that failed midway leaves an
// inert parents node, cleared by a later try once old enough (clearOrphan: a young one may be
// another submitter's, still writing). An existing task gets nothing
// written (no edges for a resubmission, nor under an unrelated task of that id).
import { orphanClearOps, parentsNodeOps, waitingRecordOps } from '../shared/protocol/dag-ops.js';
import type { DagPaths } from '../shared/protocol/dag-paths.js';
import { edgesFirst, type DagItem } from '../shared/protocol/client-transitions.js';
import { Multi, type Refusal, type Tx } from '../shared/protocol/multi.js';
import type { Op } from '../shared/zk/session.js';

/** Tries of one step through connection losses and races before giving up with the last error. */
const TRIES = 5;

/**
 * How old a parents node without its record must be to be taken as left over (a younger one
 * may be another submitter of that id still writing it), and the waits before giving up on a
 * younger one. A constant object: tests shorten it.
 */
export const ORPHAN_TIMING = { minAgeMs: 10 * 60_000, waitsMs: [250, 500, 1000, 2000, 4000] };

/** Another submit of this id is writing its parents node (or did, within ORPHAN_TIMING.minAgeMs, and stopped). */
export class SubmitInProgressError extends Error {
  override name = 'SubmitInProgressError';
  constructor(id: string, ageMs: number) {
    super(`task ${id}: another submit of it is writing its dependencies (its parents node is ${Math.round(ageMs / 1000)} s old, no record yet); try again later (one left over is cleared once ${ORPHAN_TIMING.minAgeMs / 60_000} minutes old)`);
  }
}

/**
 * Removes what a submit of `id` left without a record (parents node + chunks, waiting entry),
 * guarded against a record made meanwhile. 'exists': the task exists (read it); 'clear':
 * nothing of a submit of `id` is left. A parents node younger than ORPHAN_TIMING.minAgeMs
 * (its ctime) is another submitter's in progress: looked at again after each wait, then a
 * SubmitInProgressError. 1 multiRead + 1 getData, + 1 multi when something is left.
 */
export async function clearOrphan(tx: Tx, dag: DagPaths, id: string, again: () => Promise<void>): Promise<'exists' | 'clear'> {
  const { session } = tx;
  let young = 0;
  for (let attempt = 0; ; attempt++) {
    const [p, w] = await session.retrying(() => session.getChildrenMany([dag.parents(id), dag.waiting(id)]));
    if (p?.ok) {
      const [node] = await session.retrying(() => session.getDataMany([dag.parents(id)]));
      const age = node?.ok ? Date.now() - node.stat.ctime : Infinity;
      if (age < ORPHAN_TIMING.minAgeMs) {
        if ((await session.retrying(() => session.exists(tx.paths.task(id)))) !== null) return 'exists';
        const wait = ORPHAN_TIMING.waitsMs[young++];
        if (wait === undefined) throw new SubmitInProgressError(id, age);
        await new Promise((r) => setTimeout(r, wait));
        attempt--;
        continue;
      }
    }
    const ops = orphanClearOps(dag, id, p?.ok ? p.children : null, !!w?.ok);
    if (ops.length === 0) return 'clear';
    const v = await new Multi(tx.paths).add(0, ops).send(session);
    if (v.kind === 'committed') return 'clear';
    if (v.kind === 'moved' && v.part === 'record' && v.code === 'NODE_EXISTS') return 'exists';
    if (attempt >= TRIES) throw v.error;
    // Another submitter of this id raced us (a chunk made or removed meanwhile), or the connection went: look again.
    if (v.kind === 'unknown') await again();
  }
}

/** Sends `ops` in order in multis of ≤ maxBytes; the first refusal, or null. */
async function sendInOrder(tx: Tx, ops: readonly Op[], maxBytes: number): Promise<Refusal | null> {
  for (let i = 0; i < ops.length; ) {
    const m = new Multi(tx.paths);
    for (; i < ops.length && m.fits([ops[i]!], maxBytes); i++) m.add(0, [ops[i]!]);
    const v = await m.send(tx.session);
    if (v.kind !== 'committed') return v;
  }
  return null;
}

/**
 * Submits one wide dependent item (see above). 'committed': this call (or, after an unknown
 * outcome, an earlier try of it) created it; 'exists': a task with this id exists (the
 * caller reads it to see whose). Requests: 1 exists + 1 multiRead (+1 clear) + ⌈parents
 * bytes / maxBytes⌉ multis + 1 create a parent (its reverse-edge directory) + ⌈edges bytes /
 * maxBytes⌉ + 1 multis.
 */
export async function submitWide(
  tx: Tx,
  dag: DagPaths,
  item: DagItem,
  maxBytes: number,
  again: () => Promise<void>,
  childDirs: (parents: Iterable<string>) => Promise<void>,
): Promise<'committed' | 'exists'> {
  const { session } = tx;
  const id = item.rec.id;
  for (let attempt = 0; ; attempt++) {
    if ((await session.retrying(() => session.exists(tx.paths.task(id)))) !== null) return 'exists';
    if ((await clearOrphan(tx, dag, id, again)) === 'exists') return 'exists';
    let v: Refusal | null = await sendInOrder(tx, parentsNodeOps(dag, item.rec, item.parents), maxBytes);
    if (v === null) {
      await childDirs(item.parents);
      await edgesFirst(tx, dag, id, item.parents, maxBytes, again);
      const last = await new Multi(tx.paths).add(0, waitingRecordOps(dag, item.rec)).send(session);
      if (last.kind === 'committed') return 'committed';
      if (last.kind === 'moved' && last.part === 'record' && last.code === 'NODE_EXISTS') return 'exists';
      v = last;
    }
    // Unknown outcome, or another submitter of this id between our steps: start again from the
    // exists check (which finds our own record if the last multi did go through).
    if (attempt >= TRIES || (v.kind !== 'unknown' && v.kind !== 'moved')) throw v.error;
    if (v.kind === 'unknown') await again();
  }
}
