// Retention of task dependencies: before finished tasks are purged (record and done entry),
// their dag/parents node (+ chunks) and their reverse-edge directory (+ chunks) go, in fenced
// multis of ≤ DAG_PURGE_OPS removes; only a task whose nodes are all gone has its record
// purged next (so a pass cut short leaves its done entry, and the next pass tries again).
// A finished task that a child still waits for is kept (the leader would take a missing
// parent as gone and fail the child): its children (its chunks' ids) are checked against
// dag/waiting, ≤ CHECK_CHUNKS chunks a pass, progress kept across passes (`verified`).
// Per group of ≤ 500 old tasks: 1 multiRead per 100 of their dag nodes (stats), 1 listing per
// parent with children, the chunk reads and waiting checks (bounded), then the multis.
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { existing } from '../shared/protocol/dag-reads.js';
import { Multi } from '../shared/protocol/multi.js';
import type { Finished } from '../shared/protocol/transitions.js';
import type { Op } from '../shared/zk/session.js';
import { notDeposed, type LeaderContext } from './leader-context.js';

/** Removes per multi (each ~100 bytes: far under a request's bound). */
const DAG_PURGE_OPS = 200;
/** Reverse-edge chunks (≤ 500 ids each) read per pass to see whether a child still waits. */
const CHECK_CHUNKS = 100;
/** A reverse-edge directory is listed up to this many chunks (a reply ≤ ~300 KB); past it, names are derived from its stat. */
const LIST_MAX = 20_000;
/** Chunks per multiRead (≤ ~100 KB each). */
const CHUNKS_PER_READ = 4;

interface Nodes {
  task: Finished;
  parentChunks: string[] | null; // names under its parents node, null: none
  childChunks: string[]; // its reverse-edge chunk paths, ascending
  childDir: boolean;
}

export class DagRetention {
  /** Parent id → how many of its chunks (ascending) were seen with no child waiting. */
  private readonly verified = new Map<string, number>();
  private budget = 0;

  constructor(private readonly ctx: LeaderContext) {}

  /** A new pass: the budget of chunks checked for waiting children. */
  startPass(): void {
    this.budget = CHECK_CHUNKS;
  }

  /** Of `tasks` (old finished tasks of one shard), removes the dependency nodes of those no waiting child needs; returns those free of them. */
  async clear(tasks: readonly Finished[]): Promise<Finished[]> {
    if (tasks.length === 0) return [];
    const { session } = this.ctx;
    const dag = new DagPaths(this.ctx.paths);
    const ids = tasks.map((t) => t.taskId);
    const stats = await session.retrying(() => session.getDataMany([...ids.map((id) => dag.parents(id)), ...ids.map((id) => dag.children(id))]));
    const withParents = ids.filter((_, i) => stats[i]!.ok);
    const lists = await session.retrying(() => session.getChildrenMany(withParents.map((id) => dag.parents(id))));
    const parentChunks = new Map(withParents.map((id, i) => [id, lists[i]!.ok ? (lists[i] as { children: string[] }).children : []]));
    const nodes: Nodes[] = [];
    for (let i = 0; i < tasks.length; i++) {
      const id = ids[i]!;
      const dir = stats[tasks.length + i]!;
      const childChunks = dir.ok ? await this.chunkPaths(dag, id, dir.stat.numChildren, dir.stat.cversion) : [];
      nodes.push({ task: tasks[i]!, parentChunks: parentChunks.get(id) ?? null, childChunks, childDir: dir.ok });
    }
    const free: Nodes[] = [];
    for (const n of nodes) if (n.childChunks.length === 0 || (await this.noneWaiting(dag, n))) free.push(n);
    return this.remove(dag, free);
  }

  /** A reverse-edge directory's chunk paths, ascending: listed, or (past LIST_MAX) derived from its stat (creates = (cversion + n) / 2, the oldest removed first). */
  private async chunkPaths(dag: DagPaths, id: string, n: number, cversion: number): Promise<string[]> {
    if (n === 0) return [];
    const dir = dag.children(id);
    if (n <= LIST_MAX) {
      const [r] = await this.ctx.session.retrying(() => this.ctx.session.getChildrenMany([dir]));
      return r?.ok ? r.children.sort().map((c) => `${dir}/${c}`) : [];
    }
    const first = (cversion - n) / 2;
    return Array.from({ length: n }, (_, i) => dag.childChunk(id, first + i));
  }

  /** Whether no child of `n` waits (every chunk checked, maybe over several passes). */
  private async noneWaiting(dag: DagPaths, n: Nodes): Promise<boolean> {
    const { session } = this.ctx;
    const id = n.task.taskId;
    let done = Math.min(this.verified.get(id) ?? 0, n.childChunks.length);
    while (done < n.childChunks.length && this.budget > 0) {
      const take = Math.min(CHUNKS_PER_READ, this.budget, n.childChunks.length - done);
      const rs = await session.retrying(() => session.getDataMany(n.childChunks.slice(done, done + take), { maxPerRequest: CHUNKS_PER_READ }));
      this.budget -= take;
      const kids = new Set<string>();
      for (const r of rs) if (r.ok) for (const c of JSON.parse(r.data.toString('utf8')) as string[]) kids.add(c);
      const waiting = await existing(session, [...kids].map((c) => dag.waiting(c)));
      if (waiting.some(Boolean)) break; // a child still needs it: kept (this chunk checked again next pass)
      done += take;
    }
    this.verified.set(id, done);
    return done >= n.childChunks.length;
  }

  /** The removes of `free`, task by task, in fenced multis; returns the tasks whose every remove committed. */
  private async remove(dag: DagPaths, free: readonly Nodes[]): Promise<Finished[]> {
    const ops: Op[] = [];
    const lastOp: number[] = [];
    for (const n of free) {
      const id = n.task.taskId;
      if (n.parentChunks) {
        for (const c of n.parentChunks) ops.push({ op: 'remove', path: `${dag.parents(id)}/${c}` });
        ops.push({ op: 'remove', path: dag.parents(id) });
      }
      for (const p of n.childChunks) ops.push({ op: 'remove', path: p });
      if (n.childDir) ops.push({ op: 'remove', path: dag.children(id) });
      lastOp.push(ops.length);
    }
    let sent = 0;
    for (; sent < ops.length; sent += DAG_PURGE_OPS) {
      const part = ops.slice(sent, sent + DAG_PURGE_OPS);
      const v = notDeposed(this.ctx, await new Multi(this.ctx.paths).fence(this.ctx.fence()).add(0, part).send(this.ctx.session));
      if (v.kind !== 'committed') {
        this.ctx.log.debug({ err: v.error.message }, 'could not remove the dependency nodes of finished tasks (tried again next pass)');
        break;
      }
    }
    const done = Math.min(sent, ops.length);
    const out: Finished[] = [];
    free.forEach((n, i) => {
      if (lastOp[i]! <= done) {
        out.push(n.task);
        this.verified.delete(n.task.taskId);
      }
    });
    return out;
  }
}
