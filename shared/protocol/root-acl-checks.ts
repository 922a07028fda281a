// What `drover init` refuses or warns about before it sets a root's ACL: a root that is no
// drover layout (ZooKeeper's own /zookeeper, any other tree), an --update that would take
// CREATE or WRITE from an identity the root grants them now (running processes of it would be
// locked out mid-run), and entries drover processes cannot work with (c without a: they read a
// masked copy of the ACL, which they cannot create with: session-requests.ts aclFor).
import type { ZkSession } from '../zk/session.js';
import { PERMS, aclText, isMasked, type Acl, type AclEntry } from '../zk/acl.js';
import { LayoutError, openLayout } from './layout.js';

export { isZooKeeperTree } from './id-checks.js';

/** What `root` holds: a readable drover layout ('layout'), none (null), or the LayoutError that refuses it. */
export async function layoutOf(session: ZkSession, root: string): Promise<'layout' | null | LayoutError> {
  try {
    return (await openLayout(session, root)) ? 'layout' : null;
  } catch (err) {
    if (err instanceof LayoutError) return err;
    throw err;
  }
}

/** Null when `root` holds a drover layout this identity can read; else why --update refuses it. */
export async function notALayout(session: ZkSession, root: string): Promise<string | null> {
  const got = await layoutOf(session, root);
  if (got === 'layout') return null;
  return got === null ? `${root} holds no drover layout (no ${root}/layout): init --update only sets the ACL of a drover root` : got.message;
}

/** An entry's identity: a digest's user (its hash may be masked as `user:x`), else scheme:id. */
const who = (e: AclEntry): string => (e.scheme === 'digest' ? `digest:${e.id.split(':')[0]}` : `${e.scheme}:${e.id}`);
const sameHolder = (a: AclEntry, b: AclEntry): boolean => (isMasked(a) || isMasked(b) ? who(a) === who(b) : a.scheme === b.scheme && a.id === b.id);

/** Entries of `old` holding c or w that `next` takes them from (absent, another password, or fewer of c/w). */
export function droppedWriters(old: Acl, next: Acl): AclEntry[] {
  const cw = PERMS.c | PERMS.w;
  return old.filter((o) => {
    if (!(o.perms & cw)) return false;
    const kept = next.filter((n) => sameHolder(o, n)).reduce((p, n) => p | n.perms, 0);
    return (o.perms & cw & ~kept) !== 0;
  });
}

/** The warning lines for `acl` (none when fine). */
export function aclWarnings(acl: Acl): string[] {
  if (!acl.some((e) => e.scheme === 'digest')) return []; // nothing is masked without digests
  return acl
    .filter((e) => e.perms & PERMS.c && !(e.perms & PERMS.a))
    .map((e) => `${aclText([e])} lacks a: its masters and workers read a masked copy of the root's ACL and cannot create under it (give it cdrwa, or use it for reading only)`);
}
