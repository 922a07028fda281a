// Submits tasks with dependencies straight through the protocol (dag-ops.ts), so the leader's
// release can be tested without the client's submit: parents first, in multis of BATCH tasks,
// as the client's submit writes them, but without reverse edges (dag/children: the leader's
// release never reads them; the client's `get` and the retention do, so a test of those
// submits through the client), so these tests do not depend on the edges' layout.
import { dependentSubmitOps } from '../../shared/protocol/dag-ops.js';
import { DagPaths } from '../../shared/protocol/dag-paths.js';
import { ensureDagDirs } from '../../shared/protocol/dag-reads.js';
import type { Paths } from '../../shared/protocol/paths.js';
import { submitOps } from '../../shared/protocol/task-ops.js';
import { newTaskRecord, type SubmitInput, type TaskRecord } from '../../shared/protocol/task-record.js';
import type { Op, ZkSession } from '../../shared/zk/session.js';

/** Tasks a multi (≤ 4 small ops each with one parent: a few hundred KB at most). */
const BATCH = 100;

/** Writes `inputs` in the order given (parents before their children); returns their records. */
export async function submitDag(session: ZkSession, paths: Paths, inputs: readonly SubmitInput[]): Promise<TaskRecord[]> {
  const dag = new DagPaths(paths);
  if (inputs.some((i) => i.dependsOn?.length)) await ensureDagDirs(session, dag);
  const recs = inputs.map((i) => newTaskRecord(i));
  for (let from = 0; from < recs.length; from += BATCH) {
    const ops: Op[] = [];
    recs.slice(from, from + BATCH).forEach((rec, k) => {
      const parents = inputs[from + k]!.dependsOn ?? [];
      ops.push(...(parents.length === 0 ? submitOps(paths, rec) : dependentSubmitOps(dag, rec, parents)));
    });
    await session.multi(ops);
  }
  return recs;
}
