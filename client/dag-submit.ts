// The checks and the order of a submission with dependencies, before anything is written:
// every parent is in the same call or an existing task (its existence, in multiReads of ≤ 100), no
// cycle within the call (existing tasks cannot depend on new ones, so there is none
// elsewhere), and the order parents-first in which the batches go.
import type { Paths } from '../shared/protocol/paths.js';
import { TaskValidationError, type SubmitInput } from '../shared/protocol/task-record.js';
import type { ZkSession } from '../shared/zk/session.js';
import { existing } from '../shared/protocol/dag-reads.js';

/** A cycle among the tasks of one submission: `ids` around it, each depending on the next (the first again last). */
export class DependencyCycleError extends TaskValidationError {
  override name = 'DependencyCycleError';
  constructor(readonly ids: string[]) {
    super('dependsOn', `dependency cycle: ${ids.join(' → ')} (→: depends on)`);
  }
}

/** Parents that are neither in the submission nor existing tasks. */
export class UnknownParentError extends TaskValidationError {
  override name = 'UnknownParentError';
  constructor(
    readonly childId: string,
    readonly parentId: string,
    readonly others: number,
  ) {
    super('dependsOn', `task ${childId} depends on ${parentId}, which is neither in this submission nor an existing task${others > 0 ? ` (and ${others} more unknown parent ids)` : ''}`);
  }
}

/**
 * The order to submit `ids` in so that every task comes after its parents within the call
 * (`parents[i]`: task i's parent ids), as close to the given order as that allows (the given
 * order when it already is one). A cycle is a DependencyCycleError naming it. The first task
 * of an id repeated in the call is the one depended on.
 */
export function topoOrder(ids: readonly string[], parents: readonly (readonly string[])[]): number[] {
  const at = new Map<string, number>();
  ids.forEach((id, i) => at.has(id) || at.set(id, i));
  const state = new Uint8Array(ids.length); // 0 new, 1 on the path, 2 placed
  const out: number[] = [];
  for (let root = 0; root < ids.length; root++) {
    if (state[root] !== 0) continue;
    // Iterative depth-first walk (a 10 000-long chain must not overflow the stack).
    const stack: Array<{ i: number; next: number }> = [{ i: root, next: 0 }];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const ps = parents[top.i]!;
      let pushed = false;
      while (top.next < ps.length) {
        const j = at.get(ps[top.next++]!);
        if (j === undefined || state[j] === 2) continue;
        if (state[j] === 1) {
          const from = stack.findIndex((f) => f.i === j);
          throw new DependencyCycleError([...stack.slice(from).map((f) => ids[f.i]!), ids[j]!]);
        }
        state[j] = 1;
        stack.push({ i: j, next: 0 });
        pushed = true;
        break;
      }
      if (pushed) continue;
      state[top.i] = 2;
      out.push(top.i);
      stack.pop();
    }
  }
  return out;
}

/**
 * Refuses a submission whose dependsOn names a task neither in it (`ids`) nor in ZooKeeper:
 * the ids not in the call are looked up by existence only (getChildren of their records in
 * multiReads of ≤ 100: a few bytes a parent, whatever its record holds).
 */
export async function checkParentsKnown(session: ZkSession, paths: Paths, inputs: readonly SubmitInput[], ids: readonly string[]): Promise<void> {
  const inCall = new Set(ids);
  const outside = new Map<string, string>(); // parent id → a child naming it
  inputs.forEach((input, i) => {
    for (const p of input.dependsOn ?? []) if (!inCall.has(p) && !outside.has(p)) outside.set(p, ids[i]!);
  });
  if (outside.size === 0) return;
  const names = [...outside.keys()];
  const found = await existing(session, names.map((p) => paths.task(p)));
  const unknown = names.filter((_, i) => !found[i]);
  if (unknown.length > 0) throw new UnknownParentError(outside.get(unknown[0]!)!, unknown[0]!, unknown.length - 1);
}
