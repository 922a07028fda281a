// Removing a drover root and everything under it, for `drover admin destroy`. Refuses what is no
// drover root (never someone else's data), `/` and /zookeeper, a root holding anything but its
// own top-level entries (a nested root, foreign data), and a root with a live master or worker.
// First, ONE multi makes the tombstone `destroying` (with the root's ACL), removes `layout` and the (empty) election
// and workers directories: a member registered since the check makes it fail (nothing removed),
// and from then on no process uses or re-creates the root (layout.ts refuses a tombstoned one),
// so a destroy interrupted anywhere is resumed by running it again. Then the rest bottom-up: one
// directory listed at a time (a shard of 100 000 tasks over 256 shards is ~400 names), its
// children removed in multis of REMOVE_BATCH, REMOVE_LANES in flight (a batch the server refuses,
// a child with children of its own or one something else removed, is done as plain removes);
// last the tombstone and the root, in one multi.
import { NodeExistsError, NoNodeError, NotEmptyError } from '../shared/zk/errors.js';
import { assertRoot, Paths } from '../shared/protocol/paths.js';
import { adoptRootAcl } from '../shared/protocol/layout.js';
import type { Op, ZkSession } from '../shared/zk/session.js';
import { pooled } from '../shared/util/pool.js';
import { describeRoots, parseTombstone, readRoot, type RootInfo, type Tombstone } from './admin-roots.js';
import { childCounts } from './shard-listing.js';

/** destroyRoot would not remove this root: nothing was removed. */
export class DestroyRefusedError extends Error {
  override name = 'DestroyRefusedError';
}

export interface DestroyResult {
  root: string;
  /** What the root held when it was checked. */
  before: RootInfo;
  /** Znodes of the root this call removed (the root itself included; not the tombstone it made). */
  removed: number;
  /** The root was already being destroyed (an earlier destroy was interrupted): this one finished it. */
  resumed: boolean;
}

/** For tests: run between the check and the tombstone's multi (a member registering there), and right after it. */
export interface DestroyHooks {
  beforeTombstone?: () => Promise<void>;
  afterTombstone?: () => Promise<void>;
}

/** Removes per multi: ~500 paths of ≤ ~300 bytes is ≤ ~150 KiB a request. */
export const REMOVE_BATCH = 500;
/** Multis in flight: ≤ 1000 removes at once. */
const REMOVE_LANES = 2;
/** A directory still not empty after this many rounds of removing its children: something keeps writing there. */
const MAX_ROUNDS = 5;

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
const base = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** A root's own top-level entries (paths.ts): anything else under it is not destroy's to remove. */
const OWN = new Set(new Paths('/x').topLevelNames());

interface Inspected {
  info: RootInfo;
  /** The root's top-level names, when checked. */
  names: string[];
  tombstoned: boolean;
}

/**
 * The refusals before anything is removed: a path that must never go, no drover root, anything
 * but a root's own entries at its top level, live members. A root being destroyed passes.
 * Requests: exists, getChildren, then the layout (or tombstone) and one multiRead of counts.
 */
async function inspect(session: ZkSession, root: string): Promise<Inspected> {
  assertRoot(root);
  if (root === '/' || root === '/zookeeper' || root.startsWith('/zookeeper/')) {
    throw new DestroyRefusedError(`refusing to destroy ${root}: ${root === '/' ? 'the whole tree' : "ZooKeeper's own znodes"}`);
  }
  const paths = new Paths(root);
  const notRoot = () => new DestroyRefusedError(`${root} is not a drover root (no readable ${paths.layout}): nothing removed`);
  const stat = await session.retrying(() => session.exists(root));
  if (!stat) throw notRoot();
  // Checked before listing: a directory of many children is no root, and its listing could near 1 MB.
  if (stat.numChildren > OWN.size) throw new DestroyRefusedError(`refusing to destroy ${root}: it holds ${stat.numChildren} znodes at its top level, more than a drover root's own ${OWN.size} (a nested root or foreign data); nothing removed`);
  const { children: names } = await session.retrying(() => session.getChildren(root));
  const tombstoned = names.includes('destroying');
  if (!tombstoned && !names.includes('layout')) throw notRoot();
  const foreign = names.filter((n) => !OWN.has(n)).sort();
  if (foreign.length > 0) {
    const list = foreign.slice(0, 3).map((n) => `${root}/${n}`).join(', ') + (foreign.length > 3 ? `, … (${foreign.length})` : '');
    throw new DestroyRefusedError(`refusing to destroy ${root}: it holds ${list}, not part of a drover root (a nested root or foreign data); move or remove it first (nothing removed)`);
  }
  if (tombstoned) {
    const { data } = await session.retrying(() => session.getData(paths.destroying));
    const t = parseTombstone(root, data);
    if (!t) throw new DestroyRefusedError(`${paths.destroying} is not a drover tombstone: nothing removed`);
    const [info] = await describeRoots(session, [{ root, layout: { format: 0, shards: t.shards, createdAt: t.createdAt }, state: 'destroying' }]);
    return { info: info!, names, tombstoned };
  }
  const info = await readRoot(session, root);
  if (!info) throw notRoot();
  if (info.masters > 0 || info.workers > 0) {
    throw new DestroyRefusedError(`${root} is live: ${plural(info.masters, 'master')} and ${plural(info.workers, 'worker')} alive; stop them first (nothing removed)`);
  }
  return { info, names, tombstoned };
}

/** The refusals before anything is removed (see inspect): what the root holds. */
export async function checkDestroyable(session: ZkSession, root: string): Promise<RootInfo> {
  return (await inspect(session, root)).info;
}

/**
 * Removes `root` (a drover root without live members, or one an earlier destroy left
 * tombstoned) and everything under it, not its parents.
 */
export async function destroyRoot(session: ZkSession, root: string, hooks: DestroyHooks = {}): Promise<DestroyResult> {
  const got = await inspect(session, root);
  const before = got.info;
  const resumed = got.tombstoned;
  const r = new Remover(session);
  if (!got.tombstoned) {
    // The tombstone is the root's: made with its ACL (as a member's creates), not open on a locked root.
    await adoptRootAcl(session, new Paths(root));
    await hooks.beforeTombstone?.();
    // Refused as gone or already there: another destroy got there first (inspect refuses what is no root now).
    if (!(await tombstone(session, root, got, r)) && !(await inspect(session, root)).tombstoned) {
      throw new DestroyRefusedError(`${root} changed while being checked: nothing removed; run it again`);
    }
    await hooks.afterTombstone?.();
  }
  const paths = new Paths(root);
  for (let round = 1; ; round++) {
    const { children } = await session.retrying(() => session.getChildren(root));
    for (const n of children) if (n !== 'destroying') await r.tree(`${paths.root}/${n}`);
    try {
      // The tombstone goes with the root: until then, running destroy again resumes it.
      await r.multi([{ op: 'remove', path: paths.destroying }, { op: 'remove', path: root }], 1);
      return { root, before, removed: r.removed, resumed };
    } catch (err) {
      if (!(err instanceof NotEmptyError) || round >= MAX_ROUNDS) throw err;
    }
  }
}

/**
 * The first multi: tombstone made, layout and the empty election and workers directories
 * removed. False when refused as done already (NodeExists / NoNode: another destroy).
 */
async function tombstone(session: ZkSession, root: string, got: Inspected, r: Remover): Promise<boolean> {
  const p = new Paths(root);
  const t: Tombstone = { shards: got.info.shards, createdAt: got.info.createdAt, since: Date.now() };
  const dirs = [p.election, p.workers].filter((d) => got.names.includes(base(d)));
  const ops: Op[] = [
    { op: 'create', path: p.destroying, data: Buffer.from(JSON.stringify(t)) },
    { op: 'remove', path: p.layout },
    ...dirs.map((path) => ({ op: 'remove' as const, path })),
  ];
  try {
    await r.multi(ops, ops.length - 1);
    return true;
  } catch (err) {
    if (err instanceof NotEmptyError && err.opIndex !== undefined && err.opIndex >= 2) {
      const [masters, workers] = await childCounts(session, [p.election, p.workers]);
      throw new DestroyRefusedError(`${root} is live: a member registered while it was checked (${plural(masters!, 'master')} and ${plural(workers!, 'worker')} alive); stop them first (nothing removed)`);
    }
    if (err instanceof NodeExistsError || err instanceof NoNodeError) return false;
    throw err;
  }
}

class Remover {
  removed = 0;

  constructor(private readonly session: ZkSession) {}

  /**
   * Sends `ops` as one multi (retried across connection loss), counting `removes` removed. A
   * retry refused as NoNode/NodeExists follows a first try that committed, its reply lost: done.
   */
  async multi(ops: Op[], removes: number): Promise<void> {
    let tries = 0;
    try {
      await this.session.retrying(() => (tries++, this.session.multi(ops)));
    } catch (err) {
      if (!(tries > 1 && (err instanceof NoNodeError || err instanceof NodeExistsError))) throw err;
    }
    this.removed += removes;
  }

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

  /**
   * Removes a childless `path` (NotEmptyError when it has children). One already gone is
   * counted only when an earlier try of ours may have removed it (`ours`, or this call retried).
   */
  private async one(path: string, ours = false): Promise<void> {
    let tries = 0;
    try {
      await this.session.retrying(() => (tries++, this.session.remove(path)));
      this.removed += 1;
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      if (ours || tries > 1) this.removed += 1;
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
    let tries = 0;
    try {
      await this.session.retrying(() => (tries++, this.session.multi(paths.map((path) => ({ op: 'remove' as const, path })))));
      this.removed += paths.length;
      return [];
    } catch (err) {
      if (!(err instanceof NotEmptyError || err instanceof NoNodeError)) throw err;
    }
    // A multi is all or nothing: after a retried one, a path found gone went with our first try.
    const parents: string[] = [];
    await Promise.all(
      paths.map((p) =>
        this.one(p, tries > 1).catch((err: unknown) => {
          if (!(err instanceof NotEmptyError)) throw err;
          parents.push(p);
        }),
      ),
    );
    return parents;
  }
}
