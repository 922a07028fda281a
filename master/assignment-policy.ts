// Which queued task goes to which worker: a pure function, unit-tested without ZooKeeper.
// Tasks come in priority-then-age order; each goes to the least-loaded eligible worker
// (lowest load/capacity, then fewest held, then name for a stable order), never above a
// worker's capacity, and only to a worker carrying every label the task asks for.

export interface PolicyWorker {
  name: string;
  capacity: number;
  /** Assignments it holds now. */
  load: number;
  labels: Record<string, string>;
  /** Only 'alive' workers get work. */
  state: string;
}

export interface PolicyTask {
  id: string;
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

/** Places as many of `tasks` (already in order) as capacity allows; tasks that fit nowhere are skipped. */
export function planAssignments<T extends PolicyTask>(tasks: readonly T[], workers: readonly PolicyWorker[]): Placement<T>[] {
  const pool = workers
    .filter((w) => w.state === 'alive' && w.capacity > w.load)
    .map((w) => ({ ...w, load: Math.max(0, w.load) }));
  const out: Placement<T>[] = [];
  for (const task of tasks) {
    let best: (typeof pool)[number] | undefined;
    for (const w of pool) {
      if (w.load >= w.capacity || !labelsMatch(task.labels, w.labels)) continue;
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
