// Creates (once) and reads the znode layout of a drover root. Every process calls it on
// start; the shard count is fixed when the layout is first written and read back after.
// A root's ACL is its cluster's: read here once (getACL), the session then creates every
// znode under the root with it. A root this creates gets "creator all" when the session has
// credentials (--zk-auth), else OPEN_ACL_UNSAFE (anonymous clusters, as before ACLs).
import type { ZkSession } from '../zk/session.js';
import { CREATOR_ALL_ACL, OPEN_ACL, type Acl } from '../zk/acl.js';
import { NodeExistsError, NoNodeError } from '../zk/errors.js';
import { DEFAULT_SHARDS, LAYOUT_FORMAT, Paths } from './paths.js';

export interface LayoutInfo {
  format: number;
  shards: number;
  createdAt: number;
}

export class LayoutError extends Error {
  override name = 'LayoutError';
}

/**
 * The one check of a layout node's data (`root`'s): its layout, or what is wrong with it for
 * this drover (not JSON, another format, no creation time, a bad shard count).
 */
export function checkLayout(root: string, data: Buffer): { layout: LayoutInfo } | { problem: string } {
  let info: Partial<LayoutInfo> | null;
  try {
    info = JSON.parse(data.toString('utf8')) as Partial<LayoutInfo> | null;
  } catch {
    return { problem: 'is not JSON' };
  }
  if (!info || typeof info !== 'object') return { problem: 'is not a layout' };
  if (info.format !== LAYOUT_FORMAT) return { problem: `has layout format ${info.format}; this drover reads format ${LAYOUT_FORMAT}` };
  if (typeof info.createdAt !== 'number') return { problem: 'has no createdAt' };
  try {
    new Paths(root, info.shards); // the one check of a shard count
  } catch (err) {
    return { problem: (err as Error).message };
  }
  return { layout: info as LayoutInfo };
}

/** A layout node's data as a layout this drover reads, or null (checkLayout says why not). */
export function parseLayout(root: string, data: Buffer): LayoutInfo | null {
  const r = checkLayout(root, data);
  return 'layout' in r ? r.layout : null;
}

async function readLayout(session: ZkSession, paths: Paths): Promise<LayoutInfo | null> {
  let data: Buffer;
  try {
    ({ data } = await session.retrying(() => session.getData(paths.layout)));
  } catch (err) {
    if (err instanceof NoNodeError) return null;
    throw err;
  }
  const r = checkLayout(paths.root, data);
  if ('problem' in r) throw new LayoutError(`${paths.layout} ${r.problem}`);
  return r.layout;
}

/**
 * Refuses a root whose `drover admin destroy` began (its tombstone, made as the layout went):
 * re-creating its layout would hand a half-removed tree, maybe with another shard count, to
 * members. One exists, only when the layout is absent.
 */
async function refuseDestroying(session: ZkSession, paths: Paths): Promise<void> {
  if (await session.retrying(() => session.exists(paths.destroying))) {
    const root = paths.root || '/';
    throw new LayoutError(`${root} is being destroyed; finish with drover admin destroy --root ${root} --yes`);
  }
}

/** Reads the root's ACL (one getACL) and makes the session create under the root with it. */
export async function adoptRootAcl(session: ZkSession, paths: Paths): Promise<Acl> {
  const root = paths.root || '/';
  const { acl } = await session.retrying(() => session.getACL(root));
  session.useRootAcl(root, acl);
  return acl;
}

/** The root itself with `acl` (its parents as before: open), if absent. */
export async function createRoot(session: ZkSession, paths: Paths, acl: Acl): Promise<void> {
  if (!paths.root) return;
  const parent = paths.root.slice(0, paths.root.lastIndexOf('/'));
  if (parent) await session.mkdirp(parent);
  try {
    await session.retrying(() => session.create(paths.root, undefined, 'persistent', acl));
  } catch (err) {
    if (!(err instanceof NodeExistsError)) throw err;
  }
}

/**
 * Reads the layout of `root`, creating it if absent. Idempotent and safe to race. `acl`: the
 * ACL of a root this creates (default: creator-all with credentials, else open).
 */
export async function ensureLayout(session: ZkSession, root: string, shards = DEFAULT_SHARDS, acl?: Acl): Promise<Paths> {
  const probe = new Paths(root, shards);
  const existing = await readLayout(session, probe);
  if (existing) {
    const paths = new Paths(root, existing.shards);
    await adoptRootAcl(session, paths);
    return paths;
  }
  await refuseDestroying(session, probe);
  await createRoot(session, probe, acl ?? (session.hasAuth ? CREATOR_ALL_ACL : OPEN_ACL));
  await adoptRootAcl(session, probe);
  // Pipelined creates: the directories are independent once the top level exists.
  const dirs = probe.layoutDirs().filter((d) => d !== probe.root);
  const top = dirs.filter((d) => d.split('/').length === probe.root.split('/').length + 1);
  const rest = dirs.filter((d) => !top.includes(d));
  for (const group of [top, rest]) {
    await Promise.all(
      group.map((d) =>
        session.retrying(() =>
          session.create(d).catch((err) => {
            if (!(err instanceof NodeExistsError)) throw err;
            return d;
          }),
        ),
      ),
    );
  }
  const info: LayoutInfo = { format: LAYOUT_FORMAT, shards, createdAt: Date.now() };
  try {
    await session.create(probe.layout, Buffer.from(JSON.stringify(info)));
  } catch (err) {
    if (!(err instanceof NodeExistsError)) throw err;
  }
  const now = await readLayout(session, probe);
  if (!now) throw new LayoutError(`layout node ${probe.layout} vanished`);
  return new Paths(root, now.shards);
}

/** Reads the layout without creating it (for read-only commands). Null when absent. */
export async function openLayout(session: ZkSession, root: string): Promise<Paths | null> {
  const probe = new Paths(root);
  const info = await readLayout(session, probe);
  if (!info) {
    await refuseDestroying(session, probe);
    return null;
  }
  const paths = new Paths(root, info.shards);
  await adoptRootAcl(session, paths);
  return paths;
}
