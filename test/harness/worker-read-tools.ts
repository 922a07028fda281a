// Tools of the worker's batched-read tests: a record made unreadable (its ACL grants no READ:
// the server answers NOAUTH, -102, for that item of a multiRead), and the multiRead requests a
// session has in flight at once, counted at the session's send (each call is one request on
// the wire, whatever called it) and its biggest reply; and every request a session makes,
// with its path.
import zookeeper from 'node-zookeeper-client';
import type { Paths } from '../../shared/protocol/paths.js';
import type { RawClient } from '../../shared/zk/raw-client.js';
import type { ZkSession } from '../../shared/zk/session.js';

/** Re-creates `taskId`'s record with its data, readable by nobody (world: all but READ). */
export async function makeUnreadable(admin: ZkSession, paths: Paths, taskId: string): Promise<void> {
  const path = paths.task(taskId);
  const { data } = await admin.getData(path);
  await admin.remove(path);
  const perms = zookeeper.Permission.WRITE | zookeeper.Permission.CREATE | zookeeper.Permission.DELETE | zookeeper.Permission.ADMIN;
  const acl = [new zookeeper.ACL(perms, new zookeeper.Id('world', 'anyone'))];
  const raw = (admin as unknown as { client: RawClient }).client;
  await new Promise<void>((res, rej) => raw.create(path, data, acl, zookeeper.CreateMode.PERSISTENT, (e: unknown) => (e ? rej(e) : res())));
}

type SendReads = (items: unknown[]) => Promise<unknown[]>;

/** Counts `s`'s multiRead requests from now on: how many, the most in flight at once, the biggest reply's data. */
export function countReads(s: ZkSession): { sent: number; maxInFlight: number; maxReplyDataBytes: number } {
  const holder = s as unknown as { sendReads: SendReads };
  const send = holder.sendReads;
  const seen = { sent: 0, maxInFlight: 0, maxReplyDataBytes: 0 };
  let now = 0;
  holder.sendReads = async (items) => {
    seen.sent += 1;
    seen.maxInFlight = Math.max(seen.maxInFlight, ++now);
    try {
      const got = await send(items);
      const bytes = got.reduce<number>((n, it) => n + ((it as { data?: Buffer }).data?.length ?? 0), 0);
      seen.maxReplyDataBytes = Math.max(seen.maxReplyDataBytes, bytes);
      return got;
    } finally {
      now -= 1;
    }
  };
  return seen;
}

/** Every request `s` makes from now on, as its op, first path and the session generation it went in. */
export function traceCalls(s: ZkSession): Array<{ op: string; path: string; generation: number }> {
  const holder = s as unknown as { call: (op: string, path: string, run: unknown) => Promise<unknown> };
  const call = holder.call.bind(s);
  const seen: Array<{ op: string; path: string; generation: number }> = [];
  holder.call = (op, path, run) => {
    seen.push({ op, path, generation: s.generation });
    return call(op, path, run);
  };
  return seen;
}
