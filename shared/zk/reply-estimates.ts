// Sizes a reply is planned by before it is read (a listing's size is known only as a child count).

/**
 * Bytes one listed name is expected to take in a getChildren reply: a 4-byte length and a name of
 * up to ~236 characters (drover's longest: a done entry, ~218). One rule for every listing packed
 * by size (client/shard-listing.ts, client/admin-roots.ts, shared/protocol/root-acl.ts).
 */
export const LISTED_NAME_BYTES = 240;
