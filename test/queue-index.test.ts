// The leader's queue index on its own (in memory): what a reset's listings and the tree
// watch's events do to it when they race, queue order across shards, and what a million
// entries cost. The mirror against a real ZooKeeper (events, resets after a cut) is in
// queue-mirror.test.ts.
import { describe, expect, it } from 'vitest';
import { QueueIndex } from '../master/queue-index.js';
import { Paths, allShards } from '../shared/protocol/paths.js';

const SHARDS = allShards(8);
const name = (id: string, notBefore = 1000, priority = 0, big = false) => Paths.queueEntryName(priority, notBefore, id, big);
const ids = (index: QueueIndex, n = 100) => index.take(n).map((e) => e.taskId);

describe('queue index: resets and events', () => {
  it('an older listing does not bring back an entry deleted after it', async () => {
    const index = new QueueIndex(SHARDS);
    const gen = index.beginReset();
    // The listing's reply was taken before the deletion; its diff runs after the event.
    const reply = [name('a'), name('b')];
    index.deleted(name('a'));
    await index.listed(SHARDS[0]!, reply, gen);
    await index.finishReset(gen);
    expect(ids(index)).toEqual(['b']);
  });

  it('an entry created while a reset runs survives its sweep; one deleted unseen (missed events) is swept', async () => {
    const index = new QueueIndex(SHARDS);
    let gen = index.beginReset();
    await index.listed(SHARDS[0]!, [name('old'), name('kept')], gen);
    await index.finishReset(gen);
    expect(index.size).toBe(2);
    // A reconnect: 'old' went while we were cut off; 'new' arrives as an event before its shard is listed again.
    gen = index.beginReset();
    expect(index.listing).toBe(true);
    index.created(SHARDS[1]!, name('new'));
    await index.listed(SHARDS[0]!, [name('kept')], gen);
    await index.listed(SHARDS[1]!, [], gen);
    expect(await index.finishReset(gen)).toBe(1);
    expect(index.listing).toBe(false);
    expect(ids(index).sort()).toEqual(['kept', 'new']);
  });

  it('a newer reset stops an older one: its listings and sweep are dropped', async () => {
    const index = new QueueIndex(SHARDS);
    const first = index.beginReset();
    const second = index.beginReset();
    await index.listed(SHARDS[0]!, [name('stale')], first);
    await index.listed(SHARDS[0]!, [name('fresh')], second);
    await index.finishReset(first);
    expect(index.listing).toBe(true);
    await index.finishReset(second);
    expect(ids(index)).toEqual(['fresh']);
  });

  it('a name re-created after its deletion during a reset is listed again', async () => {
    const index = new QueueIndex(SHARDS);
    const gen = index.beginReset();
    index.created(SHARDS[0]!, name('x'));
    index.deleted(name('x'));
    index.created(SHARDS[0]!, name('x'));
    await index.listed(SHARDS[0]!, [name('x')], gen);
    await index.finishReset(gen);
    expect(ids(index)).toEqual(['x']);
  });

  it('takes in queue order across shards (priority, then not-before), holds back entries not due, and parses the big marker', async () => {
    const index = new QueueIndex(SHARDS);
    const gen = index.beginReset();
    const later = Date.now() + 60_000;
    await index.listed(SHARDS[0]!, [name('low-old', 100), name('due-later', later), name('big', 300, 0, true)], gen);
    await index.listed(SHARDS[3]!, [name('high', 500, 7), name('low-new', 200), 'not-an-entry'], gen);
    await index.finishReset(gen);
    expect(index.size).toBe(5);
    expect(index.nextDueAt()).toBe(later);
    const taken = index.take(10);
    expect(taken.map((e) => e.taskId)).toEqual(['high', 'low-old', 'low-new', 'big']);
    expect(taken.map((e) => e.shard)).toEqual([SHARDS[3], SHARDS[0], SHARDS[3], SHARDS[0]]);
    expect(taken.find((e) => e.taskId === 'big')).toMatchObject({ big: true, notBefore: 300, priority: 0 });
    // Taken entries come back on release; dropped ones do not.
    index.release(taken[1]!);
    index.drop(taken[0]!);
    index.resetTaken();
    expect(ids(index)).toEqual(['low-old', 'low-new', 'big']);
    await index.promoteDue(later);
    index.resetTaken();
    expect(ids(index)).toContain('due-later');
  });
});

describe('queue index: cost', () => {
  it('200 000 entries: a few hundred bytes of heap each, and a take of 64 does not depend on the backlog', async () => {
    const N = 200_000;
    const shards = allShards(256);
    const paths = new Paths('/cost', 256);
    const base = Date.now() - N;
    const before = process.memoryUsage().heapUsed;
    const byShard = new Map<string, string[]>(shards.map((s) => [s, []]));
    for (let i = 0; i < N; i++) {
      const id = `t${(base + i).toString(36)}-${i}`;
      // Names as a listing reply gives them: strings of their own.
      byShard.get(paths.shard(id))!.push(Buffer.from(Paths.queueEntryName(0, base + i, id)).toString());
    }
    const index = new QueueIndex(shards);
    const gen = index.beginReset();
    for (const [s, names] of byShard) await index.listed(s, names, gen);
    await index.finishReset(gen);
    byShard.clear();
    const perEntry = (process.memoryUsage().heapUsed - before) / N;
    expect(index.size).toBe(N);
    // Each take of 64 pops 64 entries from a heap: the same work at 10 000 or 200 000 queued.
    const taken = index.stats.taken;
    for (let r = 0; r < 100; r++) for (const e of index.take(64)) index.drop(e);
    expect(index.stats.taken - taken).toBe(6400);
    console.log(`[measure] queue index: ${Math.round(perEntry)} bytes of heap per entry at ${N} entries (names included, and garbage not yet collected)`);
    // Measured ~160 bytes with names (1M entries: 160 MB of heap).
    expect(perEntry).toBeLessThan(400);
  }, 30_000);
});
