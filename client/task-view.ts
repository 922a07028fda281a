// What `get` shows of one task (DroverClient.get, the CLI's `get`): its record, its progress
// while it runs (from its assignment node), and for dependencies its parents and children
// (task-dag-view.ts, bounded).
import type { Paths } from '../shared/protocol/paths.js';
import type { AssignmentData } from '../shared/protocol/task-ops.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { heldAt } from '../shared/protocol/transitions.js';
import type { ZkSession } from '../shared/zk/session.js';
import { childrenView, parentsView, type ChildrenView, type ParentsView } from './task-dag-view.js';

export interface TaskView extends TaskRecord {
  /** Last value the handler passed to ctx.progress(), while it runs. */
  progress?: unknown;
  /** The tasks it depends on (dependsOn), the first 100 with their states (client/task-dag-view.ts). */
  parents?: ParentsView;
  /** The tasks that depend on it, the first 100. */
  children?: ChildrenView;
}

/** The whole view of task `id` (null if there is no such task). */
export async function readTaskView(session: ZkSession, paths: Paths, id: string): Promise<TaskView | null> {
  const r = await readTask(session, paths, id);
  if (r.kind === 'missing') return null;
  if (r.kind === 'malformed') throw new Error(`task ${id} has a malformed record: ${r.reason}`);
  const view: TaskView = { ...r.record };
  const [parents, children] = await Promise.all([r.record.dependsOn ? parentsView(session, paths, id) : undefined, childrenView(session, paths, id)]);
  if (parents) view.parents = parents;
  if (children) view.children = children;
  const assignment = heldAt(paths, r.record);
  if (assignment) {
    try {
      const { data } = await session.getData(assignment);
      const a = JSON.parse(data.toString('utf8')) as AssignmentData & { progress?: unknown };
      if (a.progress !== undefined) view.progress = a.progress;
    } catch {
      /* finished meanwhile */
    }
  }
  return view;
}
