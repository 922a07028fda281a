// The leader's queue mirror against a real ZooKeeper: entries come in and go out through the
// tree watch alone (no listing per change), and after a cut (same session, reconnected) or an
// expiry (a new session) the listing in the background puts the index right: entries created
// and removed while the leader could not hear are picked up, with nothing missed or extra.
import zookeeper from 'node-zookeeper-client';
import { afterEach, describe, expect, it } from 'vitest';
import { QueueIndex } from '../master/queue-index.js';
import { QueueMirror } from '../master/queue-mirror.js';
import { Paths } from '../shared/protocol/paths.js';
import type { RawClient } from '../shared/zk/raw-client.js';
import { ZkSession } from '../shared/zk/session.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, freshLayout, testLog, waitForState, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pool.closeAll();
});

async function setUp(sessionTimeoutMs: number) {
  const admin = await pool.open();
  const paths = await freshLayout(admin);
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const proxy = await TcpProxy.start(host!, Number(port));
  cleanups.push(() => proxy.stop());
  const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs, log: testLog });
  cleanups.push(() => session.close());
  const index = new QueueIndex(paths.shardNames);
  const mirror = new QueueMirror(session, paths, index, testLog, () => undefined);
  cleanups.push(() => mirror.stop());
  const truth = new Set<string>();
  const entryPath = (name: string, id: string) => `${paths.queueShard(paths.shard(id))}/${name}`;
  const create = async (ids: string[]) => {
    const names = ids.map((id) => Paths.queueEntryName(0, 1000, id));
    await admin.multi(names.map((n, i) => ({ op: 'create' as const, path: entryPath(n, ids[i]!) })));
    for (const n of names) truth.add(n);
  };
  const remove = async (ids: string[]) => {
    const names = ids.map((id) => Paths.queueEntryName(0, 1000, id));
    await admin.multi(names.map((n, i) => ({ op: 'remove' as const, path: entryPath(n, ids[i]!) })));
    for (const n of names) truth.delete(n);
  };
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  /** The index holds exactly what ZooKeeper holds. */
  const inSync = () => !index.listing && index.size === truth.size && [...truth].every((n) => index.has(n));
  return { admin, paths, proxy, session, index, mirror, create, remove, ids, inSync };
}

describe('queue mirror', () => {
  it('changes arrive as events, without listings; entries created and removed during a cut are picked up after the reconnect', async () => {
    const t = await setUp(4000);
    await t.create(t.ids('a', 40));
    await t.mirror.start();
    await waitFor(t.inSync, { message: 'first listing' });
    expect(t.mirror.progress.resets).toBe(1);
    const listed = t.index.stats.listedNames;
    expect(listed).toBe(40);

    // Connected: events alone (no listing at all).
    await t.create(t.ids('b', 25));
    await t.remove(t.ids('a', 10));
    await waitFor(t.inSync, { message: 'changes through events' });
    expect(t.index.stats.listedNames).toBe(listed);
    expect(t.mirror.progress.resets).toBe(1);

    // Cut off (the session lives on the server): what happens meanwhile is heard by nobody.
    const sessionId = t.session.sessionId;
    t.proxy.cut('close');
    await waitForState(t.session, 'disconnected');
    await t.create(t.ids('c', 30));
    await t.remove([...t.ids('a', 40).slice(10, 25), ...t.ids('b', 5)]);
    expect(t.inSync()).toBe(false);
    t.proxy.heal();
    await waitForState(t.session, 'connected');
    await waitFor(() => t.mirror.progress.resets === 2 && t.inSync(), { message: 'the reset after the reconnect' });
    expect(t.session.sessionId).toBe(sessionId);
    expect(t.index.size).toBe(40 - 25 + 25 - 5 + 30);
    expect(t.index.stats.swept).toBe(20);
  }, 30_000);

  it('after an expiry (a new session) the index is right again', async () => {
    const t = await setUp(1200);
    await t.create(t.ids('a', 20));
    await t.mirror.start();
    await waitFor(t.inSync, { message: 'first listing' });
    const expired = new Promise<void>((r) => t.session.once('expired', () => r()));
    t.proxy.cut('blackhole');
    await t.create(t.ids('n', 12));
    await t.remove(t.ids('a', 7));
    await expired;
    t.proxy.heal();
    await waitFor(() => t.mirror.progress.resets >= 2 && t.inSync(), { timeoutMs: 20_000, message: 'the reset in the new session' });
    // And the new session's watch delivers events again.
    await t.create(t.ids('z', 3));
    await waitFor(t.inSync, { message: 'events in the new session' });
  }, 30_000);

  it('a missing shard directory is listed empty: the listing finishes', async () => {
    const t = await setUp(4000);
    const gone = t.paths.shardNames[3]!;
    await t.admin.remove(t.paths.queueShard(gone));
    const ids = t.ids('m', 40).filter((id) => t.paths.shard(id) !== gone);
    await t.create(ids);
    await t.mirror.start();
    await waitFor(() => t.mirror.progress.firstListedAt !== null && t.inSync(), { message: 'the first listing done' });
  });

  it("a shard that cannot be listed: the others are indexed, and deletions in them keep no tombstone while the reset waits for it", async () => {
    const t = await setUp(4000);
    // Re-created readable by nobody (the server answers NOAUTH to its listing).
    const bad = t.paths.shardNames[5]!;
    await t.admin.remove(t.paths.queueShard(bad));
    const perms = zookeeper.Permission.WRITE | zookeeper.Permission.CREATE | zookeeper.Permission.DELETE | zookeeper.Permission.ADMIN;
    const raw = (t.admin as unknown as { client: RawClient }).client;
    await new Promise<void>((res, rej) =>
      raw.create(t.paths.queueShard(bad), Buffer.alloc(0), [new zookeeper.ACL(perms, new zookeeper.Id('world', 'anyone'))], zookeeper.CreateMode.PERSISTENT, (e: unknown) => (e ? rej(e) : res())),
    );
    cleanups.push(() => t.admin.remove(t.paths.queueShard(bad)).catch(() => undefined));
    const ids = t.ids('g', 60).filter((id) => t.paths.shard(id) !== bad);
    await t.create(ids);
    await t.mirror.start();
    await waitFor(() => t.mirror.progress.shardsListed === t.paths.shardNames.length - 1 && t.index.size === ids.length, { message: 'every other shard listed' });
    expect(t.index.listing).toBe(true);
    // Entries of listed shards go: the events alone keep the index right, nothing is remembered.
    await t.remove(ids.slice(0, 30));
    await waitFor(() => t.index.size === ids.length - 30, { message: 'deletions through events' });
    expect(t.index.tombstoneCount).toBe(0);
    expect(t.index.listing).toBe(true);
  });
});
