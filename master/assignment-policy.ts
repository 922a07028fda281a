// Which queued task goes to which worker: pure functions, unit-tested without ZooKeeper.
// Tasks come in priority-then-age order; each goes to the least-loaded eligible worker
// (lowest load/capacity, then fewest held, then name for a stable order), never above a
// worker's capacity, and only to a worker that carries every label it asks for and handles
// its type. Placement by type is exact: a worker that advertises no types (one older than
// the field) is used for a task only when no live worker that does advertise them could take
// it, so during a rolling deploy an idle old worker never wins a task over a new one that
// lists the handler.

export interface PolicyWorker {
  name: string;
  capacity: number;
  /** Assignments it holds now. */
  load: number;
  labels: Record<string, string>;
  /** Task types it has handlers for; undefined: an older worker, used only when no typed worker could take the task. */
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

export function labelsMatch(required: Readonly<Record<string, string>>, offered: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(required)) if (offered[k] !== v) return false;
  return true;
}

export function handlesType(w: Pick<PolicyWorker, 'types'>, type: string | undefined): boolean {
  return type === undefined || w.types === undefined || w.types.includes(type);
}

/** Whether `w` could run a task of this type and labels (capacity and the typed-first rule aside). */
export function accepts(w: Pick<PolicyWorker, 'types' | 'labels'>, task: { type?: string; labels: Readonly<Record<string, string>> }): boolean {
  return handlesType(w, task.type) && labelsMatch(task.labels, w.labels);
}

/** One key per type and label set: tasks with the same key ask the same of a worker. */
export function classKey(type: string | undefined, labels: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(labels).sort().map((k) => [k, labels[k]]);
  return `${type ?? ''}\u0000${JSON.stringify(sorted)}`;
}

/** Workers with the same key accept exactly the same tasks: their types (or none) and labels. */
export function profileKey(w: Pick<PolicyWorker, 'types' | 'labels'>): string {
  return classKey(w.types ? JSON.stringify(w.types) : '*', w.labels);
}

/**
 * Whether typeless workers are out for this task: some live worker that advertises types
 * could take it (typed placement first; a typeless one only when no typed one handles it).
 */
export function typedTakes(task: { type?: string; labels: Readonly<Record<string, string>> }, alive: ReadonlyArray<Pick<PolicyWorker, 'types' | 'labels'>>): boolean {
  return task.type !== undefined && alive.some((w) => w.types !== undefined && accepts(w, task));
}

/** Places as many of `tasks` (already in order) as capacity allows; tasks that fit nowhere are skipped. */
export function planAssignments<T extends PolicyTask>(tasks: readonly T[], workers: readonly PolicyWorker[]): Placement<T>[] {
  const alive = workers.filter((w) => w.state === 'alive');
  const pool = alive.filter((w) => w.capacity > w.load).map((w) => ({ ...w, load: Math.max(0, w.load) }));
  const typedFirst = new Map<string, boolean>();
  const out: Placement<T>[] = [];
  for (const task of tasks) {
    const key = classKey(task.type, task.labels);
    let typed = typedFirst.get(key);
    if (typed === undefined) typedFirst.set(key, (typed = typedTakes(task, alive)));
    let best: (typeof pool)[number] | undefined;
    for (const w of pool) {
      if (w.load >= w.capacity || !accepts(w, task) || (typed && w.types === undefined)) continue;
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

/** Why queued tasks of a class wait (bounded: the `reason` label of drover_queue_unplaceable_tasks); `paused`: drover pause holds its type. */
export type WaitingKind = 'no-worker' | 'labels' | 'type' | 'paused';

/**
 * Why no live worker could ever take tasks of this type and labels (load aside), or null
 * when one could: the kind (no live worker at all; none carries its labels, whatever its
 * type; some carry them but none of those handles its type) and the text `status` shows.
 */
export function waitingCause(
  task: { type: string; labels: Readonly<Record<string, string>> },
  workers: readonly Pick<PolicyWorker, 'types' | 'labels' | 'state'>[],
): { kind: WaitingKind; text: string } | null {
  const alive = workers.filter((w) => w.state === 'alive');
  if (alive.some((w) => accepts(w, task))) return null;
  if (alive.length === 0) return { kind: 'no-worker', text: 'no live worker' };
  const wanted = Object.entries(task.labels).map(([k, v]) => `${k}=${v}`).join(',');
  const typed = alive.some((w) => handlesType(w, task.type));
  const labelled = alive.some((w) => labelsMatch(task.labels, w.labels));
  if (!typed && !labelled) return { kind: 'labels', text: `no worker handles type ${task.type}; none has labels ${wanted}` };
  if (!labelled) return { kind: 'labels', text: `no worker has labels ${wanted}` };
  return { kind: 'type', text: wanted ? `no worker with labels ${wanted} handles type ${task.type}` : `no worker handles type ${task.type}` };
}

/** The text of waitingCause, or null: what `status` shows for tasks that wait for a handler or for labels. */
export function waitingReason(task: { type: string; labels: Readonly<Record<string, string>> }, workers: readonly Pick<PolicyWorker, 'types' | 'labels' | 'state'>[]): string | null {
  return waitingCause(task, workers)?.text ?? null;
}
