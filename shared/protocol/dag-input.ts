// A submission's dependencies, checked before anything is written (newTaskRecord calls it):
// what the record keeps of them is DependsOn; the ids go to dag/parents (dag-ops.ts).
import { MAX_PARENTS } from './dag-paths.js';
import { assertTaskId } from './id-checks.js';
import { TaskValidationError } from './record-errors.js';

export type OnParentFailure = 'fail' | 'run';

/** What a dependent task's record keeps of its dependencies. */
export interface DependsOn {
  count: number;
  onParentFailure: OnParentFailure;
}

/** Checks dependsOn/onParentFailure (ids valid, no duplicates, not itself, ≤ MAX_PARENTS); undefined: none. */
export function checkDependsOn(input: { dependsOn?: readonly string[]; onParentFailure?: OnParentFailure }, id: string): DependsOn | undefined {
  const { dependsOn, onParentFailure } = input;
  if (onParentFailure !== undefined && onParentFailure !== 'fail' && onParentFailure !== 'run') {
    throw new TaskValidationError('onParentFailure', `onParentFailure must be 'fail' or 'run', got ${JSON.stringify(onParentFailure)}`);
  }
  if (dependsOn === undefined) return undefined;
  if (!Array.isArray(dependsOn)) throw new TaskValidationError('dependsOn', 'dependsOn must be an array of task ids');
  if (dependsOn.length === 0) return undefined;
  if (dependsOn.length > MAX_PARENTS) throw new TaskValidationError('dependsOn', `task ${id} depends on ${dependsOn.length} tasks, over the limit of ${MAX_PARENTS}`);
  const seen = new Set<string>();
  for (const p of dependsOn as unknown[]) {
    if (typeof p !== 'string') throw new TaskValidationError('dependsOn', `dependsOn holds ${JSON.stringify(p)}, not a task id`);
    try {
      assertTaskId(p);
    } catch (err) {
      throw new TaskValidationError('dependsOn', `dependsOn: ${(err as Error).message}`);
    }
    if (p === id) throw new TaskValidationError('dependsOn', `task ${id} cannot depend on itself`);
    if (seen.has(p)) throw new TaskValidationError('dependsOn', `task ${id} depends on ${p} twice`);
    seen.add(p);
  }
  return { count: dependsOn.length, onParentFailure: onParentFailure ?? 'fail' };
}
