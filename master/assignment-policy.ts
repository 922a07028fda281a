// Which queued task goes to which worker: pure functions, unit-tested without ZooKeeper.
// Tasks come in priority-then-age order; each goes to the least-loaded eligible worker
// (lowest load/capacity, then fewest held, then name for a stable order), never above a
// worker's capacity, and only to a worker that handles its type and carries every label it
// asks for. A worker that advertises no types (an older one) is taken to handle any type.

export interface PolicyWorker {
  name: string;
  capacity: number;
  /** Assignments it holds now. */
  load: number;
  labels: Record<string, string>;
  /** Task types it has handlers for; undefined: any. */
  types?: readonly string[];
  /** Only 'alive' workers get work. */
  state: string;
}

export interface PolicyTask {
  id: string;
  /** Undefined: any worker's handlers will do (the policy tests leave it out). */
  type?: string;
  labels: Record<string, string>;
}

export interface Placement<T extends PolicyTask> {
  task: T;
  worker: string;
}

export function labelsMatch(required: Record<string, string>, offered: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(required)) if (offered[k] !== v) return false;
  return true;
}

export function handlesType(w: Pick<PolicyWorker, 'types'>, type: string | undefined): boolean {
  return type === undefined || w.types === undefined || w.types.includes(type);
}

/** Whether `w` could run a task of this type and labels (capacity aside). */
export function accepts(w: Pick<PolicyWorker, 'types' | 'labels'>, task: { type?: string; labels: Record<string, string> }): boolean {
  return handlesType(w, task.type) && labelsMatch(task.labels, w.labels);
}

/** Places as many of `tasks` (already in order) as capacity allows; tasks that fit nowhere are skipped. */
export function planAssignments<T extends PolicyTask>(tasks: readonly T[], workers: readonly PolicyWorker[]): Placement<T>[] {
  const pool = workers
    .filter((w) => w.state === 'alive' && w.capacity > w.load)
    .map((w) => ({ ...w, load: Math.max(0, w.load) }));
  const out: Placement<T>[] = [];
  for (const task of tasks) {
    let best: (typeof pool)[number] | undefined;
    for (const w of pool) {
      if (w.load >= w.capacity || !accepts(w, task)) continue;
      if (!best || compare(w, best) < 0) best = w;
    }
    if (!best) continue;
    best.load += 1;
    out.push({ task, worker: best.name });
  }
  return out;
}

function compare(a: PolicyWorker, b: PolicyWorker): number {
  const ra = a.load / a.capacity;
  const rb = b.load / b.capacity;
  if (ra !== rb) return ra - rb;
  if (a.load !== b.load) return a.load - b.load;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Free slots across eligible workers: how many tasks one round can place at most. */
export function freeSlots(workers: readonly PolicyWorker[]): number {
  let n = 0;
  for (const w of workers) if (w.state === 'alive' && w.capacity > w.load) n += w.capacity - w.load;
  return n;
}

/**
 * Why no live worker could ever take tasks of this type and labels (load aside), or null
 * when one could: what `status` shows for tasks that wait for a handler or for labels.
 */
export function waitingReason(task: { type: string; labels: Record<string, string> }, workers: readonly Pick<PolicyWorker, 'types' | 'labels' | 'state'>[]): string | null {
  const alive = workers.filter((w) => w.state === 'alive');
  if (alive.some((w) => accepts(w, task))) return null;
  if (alive.length === 0) return 'no live worker';
  const wanted = Object.entries(task.labels).map(([k, v]) => `${k}=${v}`).join(',');
  const typed = alive.some((w) => handlesType(w, task.type));
  const labelled = alive.some((w) => labelsMatch(task.labels, w.labels));
  if (!typed && !labelled) return `no worker handles type ${task.type}; none has labels ${wanted}`;
  if (!labelled) return `no worker has labels ${wanted}`;
  return wanted ? `no worker with labels ${wanted} handles type ${task.type}` : `no worker handles type ${task.type}`;
}
