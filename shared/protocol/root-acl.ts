// `drover init`'s work on ZooKeeper: a new root's layout made with a given ACL, or an existing
// root's ACL set on every znode under it (--update). The walk holds a bounded set of
// directories at a time (a stack: memory grows with the tree's depth times the batch, not
// with its size), reads children in small multiReads (a big directory's listing stays far
// from the 1 MB reply limit) and sends the setACLs pipelined, BATCH at a time.
import type { ZkSession } from '../zk/session.js';
import type { Acl } from '../zk/acl.js';
import { NoNodeError } from '../zk/errors.js';
import { createRoot, ensureLayout } from './layout.js';
import { Paths } from './paths.js';

/** setACLs (and directories read) in flight at once. */
const BATCH = 500;
/** Directories per multiRead of children: a queue shard of ~10^4 entries is a few hundred KB. */
const DIRS_PER_READ = 4;

export interface InitResult {
  root: string;
  created: boolean;
  /** Znodes whose ACL was set (--update); 0 on a new root. */
  updated: number;
}

/** Whether `root` holds a drover layout or anything at all. */
export async function rootExists(session: ZkSession, root: string): Promise<boolean> {
  return (await session.retrying(() => session.exists(root))) !== null;
}

/** A new root with `acl` and its layout under it (every znode with `acl`). */
export async function initRoot(session: ZkSession, root: string, acl: Acl): Promise<InitResult> {
  const paths = new Paths(root);
  await createRoot(session, paths, acl);
  await ensureLayout(session, root, undefined, acl);
  return { root, created: true, updated: 0 };
}

/** Sets `acl` on `root` and every znode under it; the count of znodes set. */
export async function updateRootAcl(session: ZkSession, root: string, acl: Acl, onProgress?: (n: number) => void): Promise<InitResult> {
  let updated = 0;
  const stack: string[] = [root];
  while (stack.length > 0) {
    const dirs = stack.splice(Math.max(0, stack.length - BATCH));
    // Set first: a znode of ours that lost READ would hide its children from us (never the case
    // for the identity running init, which keeps cdrwa: checked before).
    const set = await Promise.all(
      dirs.map((p) =>
        session.retrying(() => session.setACL(p, acl)).then(
          () => true,
          (err: unknown) => {
            if (err instanceof NoNodeError) return false; // removed meanwhile
            throw err;
          },
        ),
      ),
    );
    updated += set.filter(Boolean).length;
    onProgress?.(updated);
    const lists = await session.retrying(() => session.getChildrenMany(dirs, { maxPerRequest: DIRS_PER_READ }));
    lists.forEach((l, i) => {
      if (!l.ok) return; // gone since (NO_NODE)
      const dir = dirs[i]!;
      for (const c of l.children) stack.push(dir === '/' ? `/${c}` : `${dir}/${c}`);
    });
  }
  session.useRootAcl(root, acl);
  return { root, created: false, updated };
}
