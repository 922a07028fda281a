// Reads of many znodes in few requests: multiRead (ZooKeeper 3.6+, opcode 22; wire.ts) with
// `maxPerRequest` paths each, all requests pipelined on the one connection. Not atomic: each
// item is read on its own, a missing node is an item with its error code, not a failure.
import { ZkError } from './errors.js';
import { validatePath } from './library.js';
import { EMPTY, toStat, type ZkStat } from './requests.js';
import { OP, type MultiItem } from './wire-patches.js';
import type { ReadItem } from './wire.js';
import type zookeeper from 'node-zookeeper-client';

/** One result per path, in order. Not atomic (ZooKeeper 3.6+ multiRead, opcode 22). */
export type ReadResult =
  | { ok: true; data: Buffer; stat: ZkStat }
  | { ok: false; code: number }; // ZooKeeper error code of that item, e.g. -101 (NONODE)

export type ChildrenResult = { ok: true; children: string[] } | { ok: false; code: number };

export const DEFAULT_DATA_PER_REQUEST = 100;
export const DEFAULT_CHILDREN_PER_REQUEST = 50;

/** Sends one multiRead of `items` (the session's call, with its deadline). */
export type SendReads = (items: ReadItem[]) => Promise<MultiItem[]>;

function checkArgs(paths: readonly string[], maxPerRequest: number, what: string): void {
  if (!Number.isInteger(maxPerRequest) || maxPerRequest < 1) {
    throw new ZkError('ZK_ERROR', `${what}: maxPerRequest must be a positive integer (got ${maxPerRequest})`, { op: what });
  }
  for (const p of paths) {
    try {
      validatePath(p);
    } catch (err) {
      throw new ZkError('ZK_ERROR', `${what}: ${(err as Error).message} (${JSON.stringify(p)})`, { op: what, path: String(p) });
    }
  }
}

/** Chunks `paths`, sends every chunk at once, and puts the items back in order. */
async function readMany<R>(
  paths: readonly string[],
  maxPerRequest: number,
  op: ReadItem['op'],
  send: SendReads,
  convert: (item: MultiItem, path: string) => R,
): Promise<R[]> {
  const chunks: Array<Promise<MultiItem[]>> = [];
  for (let i = 0; i < paths.length; i += maxPerRequest) {
    chunks.push(send(paths.slice(i, i + maxPerRequest).map((path) => ({ op, path }))));
  }
  // Settle all before failing: a rejection must not leave the others unobserved.
  const settled = await Promise.allSettled(chunks);
  const out: R[] = [];
  let at = 0;
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason;
    for (const item of s.value) {
      out.push(convert(item, paths[at]!));
      at += 1;
    }
  }
  return out;
}

function unexpected(item: MultiItem, path: string, op: string): never {
  throw new ZkError('ZK_ERROR', `${op}: unexpected item type ${item.type} in the multiRead reply`, { op, path });
}

export function getDataMany(paths: readonly string[], send: SendReads, maxPerRequest = DEFAULT_DATA_PER_REQUEST): Promise<ReadResult[]> {
  try {
    checkArgs(paths, maxPerRequest, 'getDataMany');
  } catch (err) {
    return Promise.reject(err);
  }
  return readMany<ReadResult>(paths, maxPerRequest, OP.getData, send, (item, path) => {
    if (item.type === OP.error) return { ok: false, code: item.err ?? -1 };
    if (item.type !== OP.getData) unexpected(item, path, 'getDataMany');
    return { ok: true, data: item.data ?? EMPTY, stat: toStat(item.stat as zookeeper.Stat) };
  });
}

export function getChildrenMany(paths: readonly string[], send: SendReads, maxPerRequest = DEFAULT_CHILDREN_PER_REQUEST): Promise<ChildrenResult[]> {
  try {
    checkArgs(paths, maxPerRequest, 'getChildrenMany');
  } catch (err) {
    return Promise.reject(err);
  }
  return readMany<ChildrenResult>(paths, maxPerRequest, OP.getChildren, send, (item, path) => {
    if (item.type === OP.error) return { ok: false, code: item.err ?? -1 };
    if (item.type !== OP.getChildren) unexpected(item, path, 'getChildrenMany');
    return { ok: true, children: item.children ?? [] };
  });
}
