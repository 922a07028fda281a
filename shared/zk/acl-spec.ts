// ZooKeeper ACLs as drover writes and reads them: the entries (perms, scheme, id), their text
// form (`digest:USER:PASSWORD:PERMS`, `world:anyone:r`), ZooKeeper's digest of a password. No
// ZooKeeper library here: a CLI parsing its options (init's --acl) loads this alone.
import { createHash } from 'node:crypto';
import type { ZkAuth } from './session-types.js';

export interface AclEntry {
  /** ZooKeeper's bits: READ 1, WRITE 2, CREATE 4, DELETE 8, ADMIN 16. */
  perms: number;
  scheme: string;
  id: string;
}
export type Acl = readonly AclEntry[];

export const PERMS = { r: 1, w: 2, c: 4, d: 8, a: 16 } as const;
export const ALL_PERMS = 31;

/** Today's ACL when nobody asked for one (every anonymous cluster). */
export const OPEN_ACL: Acl = [{ perms: ALL_PERMS, scheme: 'world', id: 'anyone' }];
/** "The identities of the creating connection, all rights" (ZooKeeper's CREATOR_ALL_ACL). */
export const CREATOR_ALL_ACL: Acl = [{ perms: ALL_PERMS, scheme: 'auth', id: '' }];
/** At most this many entries in a root's ACL (drover init): bounds the bytes every create carries. */
export const MAX_ACL_ENTRIES = 8;

/** `cdrwa` order, e.g. 31 → "cdrwa", 1 → "r". */
export function permsText(perms: number): string {
  return 'cdrwa'.split('').filter((p) => perms & PERMS[p as keyof typeof PERMS]).join('');
}

/**
 * "cdrwa" → 31; throws on a letter that is no permission, or none. The error never quotes the
 * text: in `digest:alice:hunter:2secret` (a password holding a colon, PERMS forgotten) it is a
 * piece of the password.
 */
export function parsePerms(text: string): number {
  if (!/^[cdrwa]+$/.test(text)) throw new Error('permissions (the last part) must be letters of cdrwa');
  let n = 0;
  for (const ch of text) n |= PERMS[ch as keyof typeof PERMS];
  return n;
}

/** base64(sha1("user:password")): the id ZooKeeper's DigestAuthenticationProvider gives `user:password`. */
export function digestOf(user: string, password: string): string {
  return createHash('sha1').update(`${user}:${password}`, 'utf8').digest('base64');
}

/**
 * One ACL spec: `digest:USER:PASSWORD:PERMS` (hashed here, the password never stored) or
 * `world:anyone:PERMS`. Errors never repeat the password.
 */
export function parseAclSpec(spec: string): AclEntry & { user?: string } {
  const parts = spec.split(':');
  if (parts[0] === 'digest') {
    if (parts.length < 4 || !parts[1] || parts.slice(2, -1).join(':') === '') {
      throw new Error('an ACL of scheme digest is digest:USER:PASSWORD:PERMS');
    }
    const user = parts[1];
    const password = parts.slice(2, -1).join(':');
    return { perms: parsePerms(parts[parts.length - 1]!), scheme: 'digest', id: `${user}:${digestOf(user, password)}`, user };
  }
  if (parts[0] === 'world') {
    if (parts.length !== 3 || parts[1] !== 'anyone') throw new Error(`an ACL of scheme world is world:anyone:PERMS, got ${JSON.stringify(spec)}`);
    return { perms: parsePerms(parts[2]!), scheme: 'world', id: 'anyone' };
  }
  throw new Error(`an ACL is digest:USER:PASSWORD:PERMS or world:anyone:PERMS, got scheme ${JSON.stringify(parts[0])}`);
}

/** `scheme:credentials`, e.g. digest:user:password; errors never repeat the credentials. */
export function parseZkAuth(text: string): ZkAuth {
  const i = text.indexOf(':');
  const scheme = i > 0 ? text.slice(0, i) : '';
  const credentials = i > 0 ? text.slice(i + 1) : '';
  if (!/^[a-z][a-z0-9_-]*$/i.test(scheme) || credentials === '') throw new Error('must be SCHEME:CREDENTIALS, e.g. digest:USER:PASSWORD');
  if (scheme === 'digest' && !/^[^:]+:.+$/.test(credentials)) throw new Error('digest credentials are USER:PASSWORD');
  return { scheme, credentials };
}

/** Who a session is, without its secret: `digest:viewer`, `anonymous`. */
export function identityText(auth: readonly ZkAuth[] | undefined): string {
  if (!auth || auth.length === 0) return 'anonymous';
  return auth.map((a) => (a.scheme === 'digest' ? `digest:${a.credentials.split(':')[0]}` : a.scheme)).join(', ');
}

/** The digest ids (`user:hash`) a session's credentials give it on the server. */
export function digestIds(auth: readonly ZkAuth[] | undefined): string[] {
  return (auth ?? []).filter((a) => a.scheme === 'digest').map((a) => {
    const i = a.credentials.indexOf(':');
    return `${a.credentials.slice(0, i)}:${digestOf(a.credentials.slice(0, i), a.credentials.slice(i + 1))}`;
  });
}

/**
 * The permissions `acl` grants a session with `auth` (world:anyone to everyone, digest ids to
 * their holders; a masked digest, `user:x`, to the session holding that user).
 */
export function permsOf(acl: Acl, auth: readonly ZkAuth[] | undefined): number {
  const ids = new Set(digestIds(auth));
  const users = new Set([...ids].map((id) => id.split(':')[0]));
  const mine = (e: AclEntry) => (e.scheme === 'world' && e.id === 'anyone') || (e.scheme === 'digest' && (ids.has(e.id) || (isMasked(e) && users.has(e.id.split(':')[0]!))));
  return acl.reduce((n, e) => (mine(e) ? n | e.perms : n), 0);
}

/** `digest:alice:cdrwa, world:anyone:r` (the hash left out). */
export function aclText(acl: Acl): string {
  return acl.map((e) => `${e.scheme}:${e.scheme === 'digest' ? e.id.split(':')[0] : e.id}:${permsText(e.perms)}`).join(', ');
}

/** A digest id as a reader without ADMIN sees it (ZooKeeper masks the hash: `user:x`). */
export const isMasked = (e: AclEntry): boolean => e.scheme === 'digest' && e.id.endsWith(':x');
