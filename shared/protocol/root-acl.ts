// `drover init`'s work on ZooKeeper: a new root's layout made with a given ACL, or an existing
// root's ACL set on every znode under it (--update).
//
// The --update walk's costs: one setACL per znode (pipelined, BATCH in flight), and a listing
// only of znodes whose setACL stat says they have children (a leaf, i.e. nearly every znode, is
// never listed). Directories are listed in multiReads grouped so that a reply holds at most
// ~REPLY_BUDGET bytes of names (by numChildren times LISTED_NAME_BYTES, or the longest name seen); a directory
// too big for the budget is listed alone (ZooKeeper cannot page a listing: its reply is as big as
// its names; drover's sharded directories stay far below 1 MB: paths.ts). Memory: a stack with,
// per tree level, one group's listing (≤ ~REPLY_BUDGET of names, or one big directory) and the
// ≤ BATCH directories of the batch that named them: it grows with the tree's depth, not its size.
import type { ZkSession } from '../zk/session.js';
import type { Acl } from '../zk/acl.js';
import { NodeExistsError, NoNodeError } from '../zk/errors.js';
import { ensureLayout } from './layout.js';
import { LISTED_NAME_BYTES } from '../zk/reply-estimates.js';

/** setACLs in flight at once. */
const BATCH = 500;
/** Bytes of names one multiRead of children may bring back. */
export const REPLY_BUDGET = 256 * 1024;

export interface InitResult {
  root: string;
  created: boolean;
  /** Znodes whose ACL was set (--update); 0 on a new root. */
  updated: number;
  /** Directories listed (--update): the znodes with children. */
  listed?: number;
}

/** Whether `root` holds a drover layout or anything at all. */
export async function rootExists(session: ZkSession, root: string): Promise<boolean> {
  return (await session.retrying(() => session.exists(root))) !== null;
}

/** A root made by someone else between our check and our create (a master starting meanwhile). */
export class RootAppearedError extends Error {
  override name = 'RootAppearedError';
}

/** A new root with `acl` and its layout under it (every znode with `acl`); refuses a root that appeared meanwhile. */
export async function initRoot(session: ZkSession, root: string, acl: Acl): Promise<InitResult> {
  const parent = root.slice(0, root.lastIndexOf('/'));
  if (parent) await session.mkdirp(parent);
  try {
    await session.retrying(() => session.create(root, undefined, 'persistent', acl));
  } catch (err) {
    // Not swallowed: a master auto-creating the root meanwhile gave it its own ACL, and "created"
    // would be a lie. (A create retried after a lost reply lands here too: --update then fixes it.)
    if (err instanceof NodeExistsError) throw new RootAppearedError(`${root} appeared meanwhile (a master or another init made it); use --update`);
    throw err;
  }
  await ensureLayout(session, root, undefined, acl);
  return { root, created: true, updated: 0 };
}

type Frame = { kind: 'dirs'; dirs: { path: string; children: number }[]; next: number } | { kind: 'listing'; lists: { dir: string; names: string[] }[]; li: number; ni: number };

const child = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** Sets `acl` on `root` and every znode under it; the count of znodes set. */
export async function updateRootAcl(session: ZkSession, root: string, acl: Acl, onProgress?: (n: number) => void): Promise<InitResult> {
  let updated = 0;
  let listed = 0;
  let perName = LISTED_NAME_BYTES; // bytes one name takes in a reply (length + text), raised by a longer one seen

  /** setACL on each of `paths` (gone meanwhile: skipped); the non-empty ones, as a frame of directories to list. */
  const setAll = async (paths: string[]): Promise<Frame | null> => {
    // Set first: a znode of ours that lost READ would hide its children from us (never the case
    // for the identity running init, which keeps cdrwa: checked before).
    const stats = await Promise.all(
      paths.map((p) =>
        session.retrying(() => session.setACL(p, acl)).catch((err: unknown) => {
          if (err instanceof NoNodeError) return null; // removed meanwhile
          throw err;
        }),
      ),
    );
    const dirs: { path: string; children: number }[] = [];
    stats.forEach((s, i) => {
      if (!s) return;
      updated += 1;
      if (s.numChildren > 0) dirs.push({ path: paths[i]!, children: s.numChildren });
    });
    onProgress?.(updated);
    return dirs.length > 0 ? { kind: 'dirs', dirs, next: 0 } : null;
  };

  const stack: Frame[] = [];
  const first = await setAll([root]);
  if (first) stack.push(first);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.kind === 'dirs') {
      if (top.next >= top.dirs.length) {
        stack.pop();
        continue;
      }
      // The next group: as many directories as fit the reply budget (at least one).
      const group: string[] = [];
      let bytes = 0;
      while (top.next < top.dirs.length) {
        const d = top.dirs[top.next]!;
        const b = d.children * perName;
        if (group.length > 0 && bytes + b > REPLY_BUDGET) break;
        group.push(d.path);
        bytes += b;
        top.next += 1;
      }
      const lists = await session.retrying(() => session.getChildrenMany(group, { maxPerRequest: group.length }));
      listed += group.length;
      const frame: Frame = { kind: 'listing', lists: [], li: 0, ni: 0 };
      lists.forEach((l, i) => {
        if (!l.ok) return; // gone since (NO_NODE)
        for (const n of l.children) perName = Math.max(perName, 4 + Buffer.byteLength(n));
        frame.lists.push({ dir: group[i]!, names: l.children });
      });
      stack.push(frame);
      continue;
    }
    // A listing: the next BATCH of its children.
    const paths: string[] = [];
    while (paths.length < BATCH && top.li < top.lists.length) {
      const l = top.lists[top.li]!;
      if (top.ni >= l.names.length) {
        top.lists[top.li] = { dir: l.dir, names: [] }; // done: let its names go
        top.li += 1;
        top.ni = 0;
        continue;
      }
      paths.push(child(l.dir, l.names[top.ni++]!));
    }
    if (paths.length === 0) {
      stack.pop();
      continue;
    }
    const next = await setAll(paths);
    if (next) stack.push(next);
  }
  session.useRootAcl(root, acl);
  return { root, created: false, updated, listed };
}
