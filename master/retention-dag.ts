// Retention of task dependencies: once tasks are purged (record and done entry), their
// dag/parents node (+ chunks) and the reverse-edge chunks they own as a parent go too, in
// fenced multis of ≤ DAG_PURGE_OPS removes. Per shard with purged tasks: 1 multiRead listing
// its dag/parents and dag/children shards, 1 multiRead of the parents nodes found (chunk
// counts), then the multis. A live child of a purged parent keeps its own parents node; it
// only loses the parent's reverse edge (`get` of the parent is gone anyway).
import { DagPaths } from '../shared/protocol/dag-paths.js';
import { purgeParentsOps, type ParentsNode } from '../shared/protocol/dag-ops.js';
import { childChunkNames } from '../shared/protocol/dag-reads.js';
import { Multi } from '../shared/protocol/multi.js';
import type { Op } from '../shared/zk/session.js';
import { notDeposed, type LeaderContext } from './leader-context.js';

/** Removes per multi (each ~100 bytes: far under a request's bound). */
const DAG_PURGE_OPS = 200;

/** Removes the dependency nodes of `ids`, purged tasks of `shard`; returns how many nodes went. */
export async function purgeDagNodes(ctx: LeaderContext, shard: string, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { session } = ctx;
  const dag = new DagPaths(ctx.paths);
  const [parentsDir, childrenDir] = await session.retrying(() => session.getChildrenMany([dag.parentsShard(shard), dag.childrenShard(shard)]));
  const ops: Op[] = [];
  const purged = new Set(ids);
  if (parentsDir?.ok) {
    const children = parentsDir.children.filter((n) => purged.has(n));
    const nodes = await session.retrying(() => session.getDataMany(children.map((c) => dag.parents(c))));
    nodes.forEach((r, i) => {
      if (!r.ok) return;
      let chunks = 0;
      try {
        chunks = (JSON.parse(r.data.toString('utf8')) as ParentsNode).chunks;
      } catch {
        /* unreadable: its chunks are those listed below it; remove only what we know */
      }
      ops.push(...purgeParentsOps(dag, children[i]!, Number.isInteger(chunks) && chunks > 0 ? chunks : 0));
    });
  }
  if (childrenDir?.ok) {
    for (const id of ids) for (const n of childChunkNames(childrenDir.children, id)) ops.push({ op: 'remove', path: `${dag.childrenShard(shard)}/${n}` });
  }
  let removed = 0;
  for (let i = 0; i < ops.length; i += DAG_PURGE_OPS) {
    const part = ops.slice(i, i + DAG_PURGE_OPS);
    const v = notDeposed(ctx, await new Multi(ctx.paths).fence(ctx.fence()).add(0, part).send(session));
    if (v.kind === 'committed') removed += part.length;
    else ctx.log.debug({ shard, err: v.error.message }, 'could not remove the dependency nodes of purged tasks (tried again with the next purge of the shard)');
  }
  return removed;
}
