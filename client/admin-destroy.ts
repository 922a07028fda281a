// Removing a drover root and everything under it, for `drover admin destroy`. Refuses what is no
// drover root (never someone else's data), `/` and /zookeeper, and a root with a live master or
// worker. Removes `layout` first, so the root stops being one at once, then the rest bottom-up:
// one directory listed at a time (a shard of 100 000 tasks over 256 shards is ~400 names), its
// children removed in multis of REMOVE_BATCH, REMOVE_LANES in flight; a batch the server refuses
// (a child with children of its own, or one something else removed) is done as plain removes.
import { NoNodeError, NotEmptyError } from '../shared/zk/errors.js';
import { assertRoot, Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { pooled } from '../shared/util/pool.js';
import { readRoot, type RootInfo } from './admin-roots.js';

/** destroyRoot would not remove this root: nothing was removed. */
export class DestroyRefusedError extends Error {
  override name = 'DestroyRefusedError';
}

export interface DestroyResult {
  root: string;
  /** What the root held when it was checked. */
  before: RootInfo;
  /** Znodes this call removed (the root itself included). */
  removed: number;
}

/** Removes per multi: ~500 paths of ≤ ~300 bytes is ≤ ~150 KiB a request. */
export const REMOVE_BATCH = 500;
/** Multis in flight: ≤ 1000 removes at once. */
const REMOVE_LANES = 2;
/** A directory still not empty after this many rounds of removing its children: something keeps writing there. */
const MAX_ROUNDS = 5;

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** The refusals before anything is removed: a path that must never go, no drover root, live members. */
export async function checkDestroyable(session: ZkSession, root: string): Promise<RootInfo> {
  assertRoot(root);
  if (root === '/' || root === '/zookeeper' || root.startsWith('/zookeeper/')) {
    throw new DestroyRefusedError(`refusing to destroy ${root}: ${root === '/' ? 'the whole tree' : "ZooKeeper's own znodes"}`);
  }
  const info = await readRoot(session, root);
  if (!info) throw new DestroyRefusedError(`${root} is not a drover root (no readable ${new Paths(root).layout}): nothing removed`);
  if (info.masters > 0 || info.workers > 0) {
    throw new DestroyRefusedError(`${root} is live: ${plural(info.masters, 'master')} and ${plural(info.workers, 'worker')} alive; stop them first (nothing removed)`);
  }
  return info;
}

/**
 * Removes `root` (a drover root without live members) and everything under it, not its parents.
 * A member that starts meanwhile would write its layout again: stop them all first.
 */
export async function destroyRoot(session: ZkSession, root: string): Promise<DestroyResult> {
  const before = await checkDestroyable(session, root);
  const r = new Remover(session);
  // First: from here on it is no drover root, for any process that looks.
  await r.one(new Paths(root).layout);
  await r.tree(root);
  return { root, before, removed: r.removed };
}

class Remover {
  removed = 0;

  constructor(private readonly session: ZkSession) {}

  /** Removes `path` and what is under it. */
  async tree(path: string): Promise<void> {
    for (let round = 1; ; round++) {
      await this.children(path);
      try {
        await this.one(path);
        return;
      } catch (err) {
        if (!(err instanceof NotEmptyError) || round >= MAX_ROUNDS) throw err;
      }
    }
  }

  /** Removes a childless `path`; false when it was already gone. NotEmptyError when it has children. */
  async one(path: string): Promise<boolean> {
    try {
      await this.session.retrying(() => this.session.remove(path));
      this.removed += 1;
      return true;
    } catch (err) {
      if (err instanceof NoNodeError) return false;
      throw err;
    }
  }

  /** Removes every child of `dir` (a listing of one directory), then descends into those that had children, one at a time. */
  private async children(dir: string): Promise<void> {
    let names: string[];
    try {
      names = (await this.session.retrying(() => this.session.getChildren(dir))).children;
    } catch (err) {
      if (err instanceof NoNodeError) return;
      throw err;
    }
    const prefix = dir === '/' ? '/' : `${dir}/`;
    const batches: string[][] = [];
    for (let i = 0; i < names.length; i += REMOVE_BATCH) batches.push(names.slice(i, i + REMOVE_BATCH).map((n) => prefix + n));
    const parents: string[] = [];
    await pooled(batches, async (batch) => {
      parents.push(...(await this.batch(batch)));
    }, REMOVE_LANES);
    for (const p of parents) await this.tree(p);
  }

  /** Removes `paths` in one multi, or one by one when it is refused; the paths that have children. */
  private async batch(paths: string[]): Promise<string[]> {
    try {
      await this.session.retrying(() => this.session.multi(paths.map((path) => ({ op: 'remove' as const, path }))));
      this.removed += paths.length;
      return [];
    } catch (err) {
      if (!(err instanceof NotEmptyError || err instanceof NoNodeError)) throw err;
    }
    const parents: string[] = [];
    await Promise.all(
      paths.map((p) =>
        this.one(p).catch((err: unknown) => {
          if (!(err instanceof NotEmptyError)) throw err;
          parents.push(p);
        }),
      ),
    );
    return parents;
  }
}
