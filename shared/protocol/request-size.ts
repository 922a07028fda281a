// The size of a multi as ZooKeeper counts it against jute.maxbuffer, and the bounds every
// batched or single write is held to (task-ops.ts re-exports all of it).
import type { Op } from '../zk/session.js';
import { largestAclBytes } from '../zk/acl.js';
import { ustringBytes } from '../zk/wire.js';
import { MAX_REQUEST_BYTES } from './task-record.js';

// Sizes of the jute encoding of a multi request, as the server counts it against
// jute.maxbuffer (the request header and body; not the 4-byte length before them).
const REQUEST_HEADER_BYTES = 4 + 4; // xid, type
const MULTI_HEADER_BYTES = 4 + 1 + 4; // type, done, err: before every op and once at the end

/** The size of a multi's request (exact for paths without a chroot; a chroot adds its length per op). */
export function opsBytes(ops: Op[]): number {
  let n = REQUEST_HEADER_BYTES + MULTI_HEADER_BYTES;
  for (const o of ops) {
    n += MULTI_HEADER_BYTES + ustringBytes(o.path);
    // data, acl, flags; the acl as the largest a session of this process creates with (a root's
    // ACL from drover init, at most MAX_ACL_ENTRIES entries; OPEN_ACL_UNSAFE on an anonymous root).
    if (o.op === 'create') n += 4 + (o.data?.length ?? 0) + largestAclBytes() + 4;
    else if (o.op === 'setData') n += 4 + o.data.length + 4; // data, version
    else n += 4; // version
  }
  return n;
}

export { MAX_REQUEST_BYTES };

/**
 * Bounds of a batched multi (assign, submit, start): well under MAX_REQUEST_BYTES, so that a
 * chroot in front of each of its paths (a few hundred ops) still fits, and one request does
 * not hold the server up for long.
 */
export const BATCH_LIMITS = { maxBytes: 400 * 1024, maxItems: 200 };

/** A multi that cannot fit in one ZooKeeper request, whatever is cut from it. */
export class RequestTooLargeError extends Error {
  override name = 'RequestTooLargeError';
  constructor(
    readonly bytes: number,
    what: string,
  ) {
    super(`${what} would be a ${bytes}-byte request, over ZooKeeper's ${MAX_REQUEST_BYTES}-byte limit (jute.maxbuffer)`);
  }
}

/** Throws RequestTooLargeError unless `tr` fits in one request. */
export function assertFits<T extends { ops: Op[] }>(tr: T, what: string): T {
  const bytes = opsBytes(tr.ops);
  if (bytes > MAX_REQUEST_BYTES) throw new RequestTooLargeError(bytes, what);
  return tr;
}
