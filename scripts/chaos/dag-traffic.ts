// The DAG share of the chaos traffic: small graphs of tasks submitted in one submitMany each
// (parents first), among the independent tasks. Some have a parent made to fail (it sleeps
// past a short timeoutMs with one attempt: the worker fails it as `timeout`), so that its
// dependents end failed as dependency-failed, or, with onParentFailure 'run', run anyway.
// The plan knows what each task must end as; workflow-checks.ts holds the run to it.
import type { OnParentFailure, SubmitInput } from '../../shared/protocol/task-record.js';

/** What a DAG task must end as. */
export type DagExpect = 'succeeded' | 'failed' | 'dependency-failed';

export interface DagNode {
  id: string;
  /** Which graph it belongs to (its shape's name and number). */
  unit: string;
  parents: string[];
  policy: OnParentFailure;
  /** Made to fail on its own (timeout with one attempt). */
  failing: boolean;
  expect: DagExpect;
}

interface NodeSpec {
  role: string;
  after?: string[];
  policy?: OnParentFailure;
  failing?: boolean;
}

type Shape = { name: string; nodes: NodeSpec[] };

const FAN_WIDTH = 18;

/** The graphs, in the order they are taken (round and round while the budget lasts): the small
 *  ones with a failing parent first, so that even a short run has them, the fan-out/fan-in last. */
const SHAPES: Shape[] = [
  // The top fails: everything below ends dependency-failed without running.
  { name: 'diamond-failed', nodes: [{ role: 'a', failing: true }, { role: 'b', after: ['a'] }, { role: 'c', after: ['a'] }, { role: 'd', after: ['b', 'c'] }] },
  // The head fails; b runs anyway, so c (default policy) runs after b's success.
  { name: 'chain-run', nodes: [{ role: 'a', failing: true }, { role: 'b', after: ['a'], policy: 'run' }, { role: 'c', after: ['b'] }] },
  // One side of the diamond fails; the bottom runs anyway after both ended.
  { name: 'diamond-run', nodes: [{ role: 'a' }, { role: 'b', after: ['a'], failing: true }, { role: 'c', after: ['a'] }, { role: 'd', after: ['b', 'c'], policy: 'run' }] },
  { name: 'diamond', nodes: [{ role: 'a' }, { role: 'b', after: ['a'] }, { role: 'c', after: ['a'] }, { role: 'd', after: ['b', 'c'] }] },
  { name: 'chain', nodes: [{ role: 'a' }, { role: 'b', after: ['a'] }, { role: 'c', after: ['b'] }] },
  // The head fails: the failure travels down the chain.
  { name: 'chain-failed', nodes: [{ role: 'a', failing: true }, { role: 'b', after: ['a'] }, { role: 'c', after: ['b'] }] },
  { name: 'fan', nodes: [{ role: 'root' }, ...Array.from({ length: FAN_WIDTH }, (_, k) => ({ role: `m${k}`, after: ['root'] })), { role: 'sink', after: Array.from({ length: FAN_WIDTH }, (_, k) => `m${k}`) }] },
];

export interface DagUnit {
  name: string;
  nodes: DagNode[];
}

/** Handler time of a failing task, and the timeout that fails it first. */
const FAILING_MS = 5000;
const FAILING_TIMEOUT_MS = 300;

export class DagPlan {
  readonly units: DagUnit[] = [];
  readonly nodes = new Map<string, DagNode>();
  readonly taskCount: number;

  /** Graphs for about `budget` tasks (whole graphs only, none over the budget). */
  constructor(budget: number) {
    let left = budget;
    for (let fitted = true; fitted; ) {
      fitted = false;
      for (const shape of SHAPES) {
        if (shape.nodes.length > left) continue;
        this.add(shape);
        left -= shape.nodes.length;
        fitted = true;
      }
    }
    this.taskCount = budget - left;
  }

  private add(shape: Shape): void {
    const unit = `${shape.name}-${String(this.units.length).padStart(2, '0')}`;
    const idOf = (role: string) => `dag-${unit}-${role}`;
    const nodes: DagNode[] = [];
    for (const n of shape.nodes) {
      const parents = (n.after ?? []).map(idOf);
      const policy = n.policy ?? 'fail';
      const parentEnds = parents.map((p) => this.nodes.get(p)!.expect);
      const parentFailed = parentEnds.some((e) => e !== 'succeeded');
      const expect: DagExpect = parentFailed && policy === 'fail' ? 'dependency-failed' : n.failing ? 'failed' : 'succeeded';
      const node: DagNode = { id: idOf(n.role), unit, parents, policy, failing: n.failing === true, expect };
      this.nodes.set(node.id, node);
      nodes.push(node);
    }
    this.units.push({ name: unit, nodes });
  }

  /** Ids that must end failed (by their own failure or by a parent's): not the checker's "wrong outcome". */
  expectedFailures(): Set<string> {
    return new Set([...this.nodes.values()].filter((n) => n.expect !== 'succeeded').map((n) => n.id));
  }

  /**
   * The submission of one graph, parents first; `value(k)` is the payload value of its k-th
   * task and `ms()` a handler time. Tasks that must succeed are like the independent ones.
   */
  inputs(unit: DagUnit, value: (k: number) => number, ms: () => number): SubmitInput[] {
    return unit.nodes.map((n, k) => {
      const deps: Partial<SubmitInput> = n.parents.length ? { dependsOn: n.parents, onParentFailure: n.policy } : {};
      if (n.failing) return { type: 'work', id: n.id, payload: { value: value(k), ms: FAILING_MS }, maxAttempts: 1, timeoutMs: FAILING_TIMEOUT_MS, ...deps };
      return { type: 'work', id: n.id, payload: { value: value(k), ms: ms() }, maxAttempts: 3, backoff: { initialMs: 100, factor: 2, maxMs: 1000 }, timeoutMs: 20_000, ...deps };
    });
  }
}
