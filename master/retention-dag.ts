// Retention of task dependencies: before finished tasks are purged (record and done entry),
// their dag/parents node (+ chunks) and their reverse-edge directory (+ chunks) go, in fenced
// multis of ≤ DAG_PURGE_OPS removes, each checking the done entries of its tasks (a task an
// operator retried meanwhile keeps its nodes); only a task whose nodes are all gone has its
// record purged next, guarded (purgeGuard) by a create+remove of its reverse-edge directory: a
// child submitted after the directory went (it made the directory again) stops the purge.
// A finished task that a child still waits for is kept (the leader would take a missing parent
// as gone and fail the child): its chunks' children are checked against dag/waiting, chunks of
// the whole group read together, ≤ CHECK_CHUNKS chunks / CHECK_BYTES a pass; progress is the
// name of the last chunk verified (sequential names only grow: a chunk made later is checked),
// and a parent kept has the waiting child found remembered: next pass, only that child's
// waiting entry is looked at (outside the budget) until it is gone.
// Per group of ≤ 500 old tasks: 1 multiRead of its shard's two directories (all when both are
// empty or absent), 1 existence multiRead per 100 remembered children, 1 multiRead
// per 100 of their dag nodes (stats), the listings of parents nodes and of reverse-edge
// directories in multiReads (≤ ~20 000 names a reply), the chunk reads (4 a request, 64 at
// once) and waiting checks (100 a request), then the multis.
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { existing } from '../shared/protocol/dag-reads.js';
import { Multi } from '../shared/protocol/multi.js';
import type { Finished } from '../shared/protocol/transitions.js';
import type { Op } from '../shared/zk/session.js';
import { notDeposed, type LeaderContext } from './leader-context.js';

/** Removes per multi (each ~100 bytes: far under a request's bound). */
const DAG_PURGE_OPS = 200;
/** Reverse-edge chunks (≤ 500 ids each) read per pass to see whether a child still waits, and their bytes. */
export const CHECK_CHUNKS = 5_000;
const CHECK_BYTES = 64 * 1024 * 1024;
/** Chunks read at once (16 multiReads of 4: ≤ ~6.4 MB in flight at the longest ids). */
const WINDOW = 64;
/** A reverse-edge directory is listed up to this many chunks (a reply ≤ ~300 KB); past it, names are derived from its stat. */
const LIST_MAX = 20_000;
/** Chunks per multiRead (≤ ~100 KB each). */
const CHUNKS_PER_READ = 4;
/** Parents remembered (progress, waiting child) at most; past it, forgotten (checked again from the start). */
const REMEMBER_MAX = 100_000;

interface Nodes {
  task: Finished;
  parentChunks: string[] | null; // names under its parents node, null: none
  childChunks: string[]; // names of its reverse-edge chunks not yet verified, ascending
  allChunks: string[]; // names of all its reverse-edge chunks (to remove)
  childDir: boolean;
  blocked?: boolean;
}

export class DagRetention {
  /** Parent id → the name of its last chunk seen with no child waiting. */
  private readonly verified = new Map<string, string>();
  /** Parent id → a child found waiting for it. */
  private readonly waitedBy = new Map<string, string>();
  /** Shards whose dag/children/<shard> exists (the purge guard needs it). */
  private readonly guardable = new Set<string>();
  private chunks = 0;
  private bytes = 0;

  constructor(private readonly ctx: LeaderContext) {}

  /** A new pass: the budget of chunks checked for waiting children. */
  startPass(): void {
    this.chunks = CHECK_CHUNKS;
    this.bytes = CHECK_BYTES;
    if (this.verified.size > REMEMBER_MAX) this.verified.clear();
    if (this.waitedBy.size > REMEMBER_MAX) this.waitedBy.clear();
  }

  /** Ops that refuse a record purge of `id` if a child was submitted for it since its reverse edges went (none without dag/). */
  purgeGuard(id: string): Op[] {
    const { paths } = this.ctx;
    if (!this.guardable.has(paths.shard(id))) return [];
    const dir = new DagPaths(paths).children(id);
    return [
      { op: 'create', path: dir },
      { op: 'remove', path: dir },
    ];
  }

  /** Of `tasks` (old finished tasks of one shard), removes the dependency nodes of those no waiting child needs; returns those free of them. */
  async clear(all: readonly Finished[]): Promise<Finished[]> {
    if (all.length === 0) return [];
    const { session, paths } = this.ctx;
    const dag = new DagPaths(paths);
    const tasks = await this.stillWaitedFor(dag, all);
    if (tasks.length === 0) return [];
    const ids = tasks.map((t) => t.taskId);
    const shard = paths.shard(ids[0]!);
    // The shard's two directories first: empty or absent (a cluster without dependencies, or
    // none in this shard), no task of it has a node to look at (2 paths read, not 1 001).
    const dirs = await session.retrying(() => session.getDataMany([dag.parentsShard(shard), dag.childrenShard(shard)]));
    if (dirs[1]!.ok) this.guardable.add(shard);
    else this.guardable.delete(shard);
    if (dirs.every((d) => !d.ok || d.stat!.numChildren === 0)) return tasks;
    const stats = await session.retrying(() => session.getDataMany([...ids.map((id) => dag.parents(id)), ...ids.map((id) => dag.children(id))]));
    const withParents = ids.filter((_, i) => stats[i]!.ok);
    const lists = await session.retrying(() => session.getChildrenMany(withParents.map((id) => dag.parents(id))));
    const parentChunks = new Map(withParents.map((id, i) => [id, lists[i]!.ok ? (lists[i] as { children: string[] }).children : []]));
    const names = await this.chunkNames(dag, ids, (i) => stats[ids.length + i]!);
    const nodes: Nodes[] = tasks.map((task, i) => {
      const allChunks = names[i]!;
      const after = this.verified.get(task.taskId) ?? '';
      return { task, parentChunks: parentChunks.get(task.taskId) ?? null, allChunks, childChunks: allChunks.filter((n) => n > after), childDir: stats[ids.length + i]!.ok };
    });
    await this.checkWaiting(dag, nodes.filter((n) => n.childChunks.length > 0));
    return this.remove(dag, nodes.filter((n) => !n.blocked && n.childChunks.length === 0));
  }

  /** `tasks` less those a remembered waiting child still waits for (1 existence multiRead per 100). */
  private async stillWaitedFor(dag: DagPaths, tasks: readonly Finished[]): Promise<Finished[]> {
    const known = tasks.filter((t) => this.waitedBy.has(t.taskId));
    if (known.length === 0) return [...tasks];
    const waits = await existing(this.ctx.session, known.map((t) => dag.waiting(this.waitedBy.get(t.taskId)!)));
    const held = new Set<string>();
    known.forEach((t, i) => (waits[i] ? held.add(t.taskId) : this.waitedBy.delete(t.taskId)));
    return tasks.filter((t) => !held.has(t.taskId));
  }

  /** Each task's reverse-edge chunk names, ascending: listed (multiReads of ≤ LIST_MAX names), or past LIST_MAX derived from its stat (creates = (cversion + n) / 2, the oldest removed first). */
  private async chunkNames(dag: DagPaths, ids: readonly string[], stat: (i: number) => { ok: boolean; stat?: { numChildren: number; cversion: number } }): Promise<string[][]> {
    const out: string[][] = ids.map(() => []);
    const groups: number[][] = [];
    let names = LIST_MAX;
    ids.forEach((id, i) => {
      const s = stat(i);
      const n = s.ok ? s.stat!.numChildren : 0;
      if (n === 0) return;
      if (n > LIST_MAX) {
        const first = (s.stat!.cversion - n) / 2;
        out[i] = Array.from({ length: n }, (_, k) => dag.childChunk(id, first + k).slice(dag.children(id).length + 1));
        return;
      }
      if (names + n > LIST_MAX) {
        groups.push([]);
        names = 0;
      }
      groups[groups.length - 1]!.push(i);
      names += n;
    });
    const { session } = this.ctx;
    await Promise.all(
      groups.map(async (g) => {
        const rs = await session.retrying(() => session.getChildrenMany(g.map((i) => dag.children(ids[i]!)), { maxPerRequest: g.length }));
        g.forEach((i, k) => {
          const r = rs[k]!;
          if (r.ok) out[i] = r.children.sort();
        });
      }),
    );
    return out;
  }

  /** Reads the unverified chunks of `nodes` (all the group's together, within the pass's budget): a node whose chunk names a waiting child is blocked (that child remembered); the others advance. */
  private async checkWaiting(dag: DagPaths, nodes: readonly Nodes[]): Promise<void> {
    const { session } = this.ctx;
    let qi = 0;
    let ci = 0;
    while (qi < nodes.length && this.chunks > 0 && this.bytes > 0) {
      const batch: Array<{ n: Nodes; name: string }> = [];
      while (batch.length < Math.min(WINDOW, this.chunks) && qi < nodes.length) {
        const n = nodes[qi]!;
        if (ci < n.childChunks.length) batch.push({ n, name: n.childChunks[ci++]! });
        else {
          qi++;
          ci = 0;
        }
      }
      if (batch.length === 0) break;
      this.chunks -= batch.length;
      const rs = await session.retrying(() => session.getDataMany(batch.map((b) => `${dag.children(b.n.task.taskId)}/${b.name}`), { maxPerRequest: CHUNKS_PER_READ }));
      const kids: string[][] = rs.map((r) => {
        if (!r.ok) return []; // removed meanwhile: nothing waits by it
        this.bytes -= r.data.length;
        return JSON.parse(r.data.toString('utf8')) as string[];
      });
      const distinct = [...new Set(kids.flat())];
      const waits = await existing(session, distinct.map((c) => dag.waiting(c)));
      const waiting = new Set(distinct.filter((_, i) => waits[i]));
      batch.forEach(({ n, name }, i) => {
        if (n.blocked) return;
        const w = kids[i]!.find((c) => waiting.has(c));
        if (w !== undefined) {
          n.blocked = true; // a child still needs it: kept (this chunk checked again once that child is gone)
          this.waitedBy.set(n.task.taskId, w);
          return;
        }
        this.verified.set(n.task.taskId, name);
        n.childChunks = n.childChunks.filter((c) => c > name);
      });
    }
  }

  /** The removes of `free`, task by task (reverse edges, then its parents node together), in fenced multis that check the done entries of their tasks; returns the tasks whose every remove committed. */
  private async remove(dag: DagPaths, free: readonly Nodes[]): Promise<Finished[]> {
    // Units: ops that go in one multi (a parents node with its ≤ 20 chunks), each ≤ DAG_PURGE_OPS.
    const units: Array<{ task: number; ops: Op[] }> = [];
    free.forEach((n, t) => {
      const id = n.task.taskId;
      const dir = dag.children(id);
      const edges: Op[] = n.allChunks.map((c) => ({ op: 'remove', path: `${dir}/${c}` }));
      if (n.childDir) edges.push({ op: 'remove', path: dir });
      for (let i = 0; i < edges.length; i += DAG_PURGE_OPS - 1) units.push({ task: t, ops: edges.slice(i, i + DAG_PURGE_OPS - 1) });
      if (n.parentChunks) units.push({ task: t, ops: [...n.parentChunks.map((c): Op => ({ op: 'remove', path: `${dag.parents(id)}/${c}` })), { op: 'remove', path: dag.parents(id) }] });
    });
    const failed = new Set<number>();
    for (let u = 0; u < units.length; ) {
      const m = new Multi(this.ctx.paths).fence(this.ctx.fence());
      const tasks = new Set<number>();
      let ops = 0;
      const start = u;
      for (; u < units.length; u++) {
        const unit = units[u]!;
        const extra = unit.ops.length + (tasks.has(unit.task) ? 0 : 1);
        if (u > start && ops + extra > DAG_PURGE_OPS) break;
        if (!tasks.has(unit.task)) m.add(unit.task, [{ op: 'check', path: free[unit.task]!.task.doneEntry }]); // still finished (not retried meanwhile)
        tasks.add(unit.task);
        m.add(unit.task, unit.ops);
        ops += extra;
      }
      const v = notDeposed(this.ctx, await m.send(this.ctx.session));
      if (v.kind !== 'committed') {
        this.ctx.log.debug({ err: v.error.message }, 'could not remove the dependency nodes of finished tasks (tried again next pass)');
        for (const t of tasks) failed.add(t);
        for (let k = u; k < units.length; k++) failed.add(units[k]!.task);
        break;
      }
    }
    const out: Finished[] = [];
    free.forEach((n, t) => {
      this.verified.delete(n.task.taskId);
      if (!failed.has(t)) out.push(n.task);
    });
    return out;
  }
}
