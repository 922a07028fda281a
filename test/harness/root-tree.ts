// Helpers of the tests that make and measure whole roots (admin roots/destroy): a root filled
// with tasks, and the count of the znodes of a (test-sized) tree.
import { DroverClient } from '../../client/drover-client.js';
import { ensureLayout } from '../../shared/protocol/layout.js';
import type { ZkSession } from '../../shared/zk/session.js';

/** Every znode at and under `path` (a test-sized tree: one getChildren a znode). */
export async function countTree(s: ZkSession, path: string): Promise<number> {
  const { children } = await s.getChildren(path);
  let n = 1;
  for (const c of children) n += await countTree(s, `${path === '/' ? '' : path}/${c}`);
  return n;
}

/** `root` with `shards` shards and `count` queued echo tasks t-0 … (submitted 1 000 at a time). */
export async function fillRoot(s: ZkSession, root: string, shards: number, count: number): Promise<void> {
  await ensureLayout(s, root, shards);
  const c = await DroverClient.connect({ session: s, root });
  try {
    for (let i = 0; i < count; i += 1000) await c.submitMany(Array.from({ length: Math.min(1000, count - i) }, (_, k) => ({ type: 'echo', id: `t-${i + k}` })));
  } finally {
    await c.close();
  }
}
