// A retry in backoff must be woken at the end of its backoff by the leader's own timer, even
// when entries ahead of it in its shard are due but no worker can take them.
import { afterEach, describe, expect, it } from 'vitest';
import { Assigner } from '../master/assigner.js';
import { Paths, shardOf } from '../shared/protocol/paths.js';
import type { HandlerMap } from '../worker/handlers.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { TEST_SHARDS } from './harness/zk.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

describe('retry wake-up', () => {
  it('a retry behind due but label-blocked entries of its shard runs at the end of its backoff, with no other event', async () => {
    const retryId = 'retry-me';
    const shard = shardOf(retryId, TEST_SHARDS);
    const blocked: string[] = [];
    for (let i = 0; blocked.length < 3; i++) if (shardOf(`gpu-${i}`, TEST_SHARDS) === shard) blocked.push(`gpu-${i}`);

    const runs: number[] = [];
    const handlers: HandlerMap = {
      flakyOnce: (_p, ctx) => {
        runs.push(Date.now());
        if (ctx.attempt === 1) throw new Error('try again');
        return 'ok';
      },
    };
    // Capacity 1: a round's first pick is one entry (the first blocked one).
    cluster = await startCluster({ workers: [{ id: 'w1', concurrency: 1, handlers }] });
    for (const id of blocked) await cluster.client.submit({ type: 'echo', id, labels: { gpu: 'yes' } });
    const backoffMs = 1500;
    await cluster.client.submit({ type: 'flakyOnce', id: retryId, maxAttempts: 2, backoff: { initialMs: backoffMs } });
    const rec = await cluster.client.wait(retryId, { timeoutMs: backoffMs + 8000 });
    expect(rec).toMatchObject({ state: 'succeeded', attempt: 2 });
    const gap = runs[1]! - runs[0]!;
    console.log(`[measure] retry ran ${gap} ms after its first attempt (backoff ${backoffMs} ms)`);
    expect(gap).toBeGreaterThanOrEqual(backoffMs);
    expect(gap).toBeLessThan(backoffMs + 3000);
    // The blocked ones still wait, untouched.
    for (const id of blocked) expect((await cluster.client.get(id))?.state).toBe('queued');
  });
});

describe('a wake-up far in the future', () => {
  it('an entry due in centuries arms no timer that fires at once (setTimeout turns delays over 2^31-1 ms into 1 ms)', async () => {
    cluster = await startCluster({ workers: [{ id: 'w1' }] });
    let rounds = 0;
    const orig = Assigner.prototype.round;
    Assigner.prototype.round = function (this: Assigner) {
      rounds++;
      return orig.call(this);
    };
    try {
      // A queue entry whose not-before is the largest the name holds (year 2286): not due, so
      // its record is never read; it only sets the wake-up timer.
      const id = 'far-future';
      await cluster.admin.create(`${cluster.paths.queueShard(shardOf(id, TEST_SHARDS))}/${Paths.queueEntryName(0, 9_999_999_999_999, id)}`);
      const { id: now } = await cluster.client.submit({ type: 'echo', payload: 1 });
      expect(await cluster.client.wait(now, { timeoutMs: 10_000 })).toMatchObject({ state: 'succeeded' });
      await new Promise((r) => setTimeout(r, 300));
      const before = rounds;
      await new Promise((r) => setTimeout(r, 1000));
      console.log(`[measure] leader rounds in a quiet second with an entry due in 2286: ${rounds - before}`);
      expect(rounds - before).toBeLessThan(5);
    } finally {
      Assigner.prototype.round = orig;
    }
  });
});
