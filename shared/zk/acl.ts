// ZooKeeper ACLs on the wire: their encoded size (for the byte bounds of a multi), the library's
// form, and the table of each root's ACL a session creates its znodes with (a root's ACL is its
// cluster's: read once when a layout is opened). Entries and their text form: acl-spec.ts.
import zookeeper from 'node-zookeeper-client';
import { OPEN_ACL, type Acl, type AclEntry } from './acl-spec.js';
import { ustringBytes } from './wire.js';

export * from './acl-spec.js';

/** Bytes of the ACL vector a create carries (count, then perms + scheme + id per entry). */
export function aclBytes(acl: Acl): number {
  return 4 + acl.reduce((n, e) => n + 4 + ustringBytes(e.scheme) + ustringBytes(e.id), 0);
}

/**
 * The largest ACL (bytes) any session of this process creates with: the byte bounds of a multi
 * (shared/protocol/task-ops.ts opsBytes) count it for every create, so a longer ACL than
 * OPEN_ACL never pushes a batch past its bound. Only grows (over-counting is safe).
 */
let largestAcl = aclBytes(OPEN_ACL);
export function noteAcl(acl: Acl): void {
  largestAcl = Math.max(largestAcl, aclBytes(acl));
}
export const largestAclBytes = (): number => largestAcl;

type LibAcl = InstanceType<typeof zookeeper.ACL>;
export function toLibAcl(acl: Acl): LibAcl[] {
  return acl.map((e) => new zookeeper.ACL(e.perms, new zookeeper.Id(e.scheme, e.id)));
}
export function fromLibAcl(acls: LibAcl[] | undefined): AclEntry[] {
  return (acls ?? []).map((a) => {
    const x = a as unknown as { permission: number; id: { scheme: string; id: string } };
    return { perms: x.permission, scheme: x.id.scheme, id: x.id.id };
  });
}

/**
 * Each root's ACL, picked by path prefix (one session may serve two roots); a path under no
 * root gets OPEN_ACL (what every create carried before ACLs: anonymous clusters unchanged).
 */
export class AclTable {
  private readonly roots = new Map<string, Acl>();

  set(root: string, acl: Acl): void {
    noteAcl(acl);
    this.roots.set(root, acl);
  }

  /** The ACL of the deepest registered root holding `path`. */
  forPath(path: string): { root?: string; acl: Acl } {
    let best: string | undefined;
    for (const r of this.roots.keys()) {
      const under = r === '/' || path === r || path.startsWith(r + '/');
      if (under && (best === undefined || r.length > best.length)) best = r;
    }
    return best === undefined ? { acl: OPEN_ACL } : { root: best, acl: this.roots.get(best)! };
  }
}
