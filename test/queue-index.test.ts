// The leader's queue index against a real ZooKeeper: two listings of one shard never overlap,
// so an older listing's diff cannot delete an entry a newer listing added; a failed listing
// of one shard leaves the others' diffs to finish first.
import { afterEach, describe, expect, it } from 'vitest';
import { QueueIndex } from '../master/queue-index.js';
import { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { SessionPool, freshLayout } from './harness/zk.js';

const pool = new SessionPool();
afterEach(() => pool.closeAll());

const BIG = 20_000;

/**
 * A shard B with BIG entries plus `newcomer`; a session whose first listing of B misses the
 * newcomer (an older listing) and whose first listing of shard A fails once B's has come back.
 */
async function setUp() {
  const session = await pool.open();
  const paths = await freshLayout(session);
  const [a, b] = [paths.shardNames[0]!, paths.shardNames[1]!];
  const newcomer = Paths.queueEntryName(0, 1, 'newcomer');
  for (let i = 0; i < BIG; i += 1000) {
    await session.multi(Array.from({ length: 1000 }, (_, k) => ({ op: 'create' as const, path: `${paths.queueShard(b)}/${Paths.queueEntryName(0, 1000 + i + k, `t${i + k}`)}` })));
  }
  await session.create(`${paths.queueShard(b)}/${newcomer}`);
  let listingsOfB = 0;
  let firstB!: () => void;
  const firstBBack = new Promise<void>((r) => (firstB = r));
  let failA!: () => void;
  const aFailed = new Promise<void>((r) => (failA = r));
  let failedOnce = false;
  const getChildren: ZkSession['getChildren'] = async (path, watcher) => {
    if (path === paths.queueShard(a) && !failedOnce) {
      failedOnce = true;
      await firstBBack;
      failA();
      throw new Error('injected: listing of shard A failed');
    }
    const r = await session.getChildren(path, watcher);
    if (path !== paths.queueShard(b)) return r;
    const older = ++listingsOfB === 1;
    if (older) setImmediate(firstB);
    // The older listing misses the newcomer; the newer one lists it first.
    return { ...r, children: older ? r.children.filter((n) => n !== newcomer) : [newcomer, ...r.children.filter((n) => n !== newcomer)] };
  };
  const wrapped = new Proxy(session, {
    get(target, key) {
      if (key === 'getChildren') return getChildren;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  const index = new QueueIndex(wrapped, paths, () => undefined);
  return { index, aFailed, listingsOfB: () => listingsOfB };
}

/** Lets every diff still running in the background finish. */
const settle = () => new Promise((r) => setTimeout(r, 1000));

describe('queue index shard listings', () => {
  it('a re-listing started while an older diff of the same shard runs does not lose the entry it added', async () => {
    const { index, aFailed, listingsOfB } = await setUp();
    const first = index.refresh().catch((e: unknown) => e);
    // As a failed round's retry would: every shard re-listed while B's first diff may still run.
    await aFailed;
    index.invalidateAll();
    await index.refresh();
    expect(await first).toBeInstanceOf(Error);
    await settle();
    expect(listingsOfB()).toBe(2);
    expect(index.size).toBe(BIG + 1);
  }, 60_000);

  it('a refresh whose listing of one shard fails throws only once every other shard is diffed', async () => {
    const { index } = await setUp();
    await expect(index.refresh()).rejects.toThrow(/injected/);
    // B's diff (the older listing: all but the newcomer) is complete when the failure surfaces.
    expect(index.size).toBe(BIG);
    // Right after the failure: re-list everything, as the next round does.
    index.invalidateAll();
    await index.refresh();
    await settle();
    expect(index.size).toBe(BIG + 1);
  }, 60_000);
});
