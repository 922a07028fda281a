// waitMany with only onEach wanted (Waiters' `keep: false`, DroverClient.waitEach): no record
// is kept once onEach has had it — a record that came early is collectable while the call
// still waits for a slow one (waitMany's Promise.all would hold it to the end) — and the call
// resolves to how many finished. `drover wait` on it still prints in the order given, holding
// only the outcomes that came before their turn. Real ZooKeeper, a real cluster.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { TaskNotFoundError } from '../client/drover-client.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { startCli } from './harness/cli-run.js';
import { waitFor } from './harness/wait-for.js';
import { zkConnect } from './harness/zk.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let cluster: TestCluster | undefined;
let g: string[] = [];
beforeAll(async () => {
  cluster = await startCluster({ workers: [{ id: 'each-w1', concurrency: 4 }] });
  g = ['--zk', zkConnect(), '--root', cluster.paths.root, '--session-timeout', '2s'];
});
afterAll(async () => {
  await cluster?.stop();
});

/** A running task that ends only when cancelled, and `n` finished ones after it. */
async function slowThenFast(prefix: string, n: number): Promise<string[]> {
  const c = cluster!.client;
  await c.submit({ type: 'sleep', id: `${prefix}-slow`, payload: { ms: 60_000 } });
  const fast = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await c.submitMany(fast.map((id, i) => ({ type: 'echo', id, payload: i })));
  await c.waitMany(fast); // finished before the wait below begins (its records not kept here)
  return [`${prefix}-slow`, ...fast];
}

describe('waitEach', () => {
  it('drops each record once onEach has had it, while still waiting; resolves to the count', async () => {
    const ids = await slowThenFast('e', 20);
    const refs: Array<WeakRef<object>> = [];
    const seen: Array<[string, number, string]> = [];
    const each = cluster!.client.waitEach(ids, {
      onEach: (rec, i) => {
        seen.push([rec.id, i, rec.state]);
        refs.push(new WeakRef(rec));
      },
    });
    each.catch(() => undefined); // awaited below; a failure before then must not go unhandled
    await waitFor(() => refs.length === 20, { message: 'the 20 finished records' });
    // Collected while the call waits on: nothing of the call holds them (each gc in a later turn).
    await waitFor(
      async () => {
        gc();
        await new Promise((r) => setImmediate(r));
        return refs.every((r) => r.deref() === undefined);
      },
      { timeoutMs: 5000, message: 'the early records collected' },
    );
    await cluster!.client.cancel(ids[0]!);
    expect(await each).toBe(21);
    expect(seen.slice(0, 20).sort((a, b) => a[1] - b[1])).toEqual(ids.slice(1).map((id, k) => [id, k + 1, 'succeeded']));
    expect(seen[20]).toEqual([ids[0], 0, 'cancelled']);
  });

  it('fails as waitMany does: the first failure, and no onEach after it', async () => {
    let calls = 0;
    await expect(cluster!.client.waitEach(['no-such-task'], { onEach: () => calls++ })).rejects.toBeInstanceOf(TaskNotFoundError);
    expect(calls).toBe(0);
    expect(await cluster!.client.waitEach([], { onEach: () => calls++ })).toBe(0);
    // A throwing onEach ends the call with its error.
    const ids = await slowThenFast('t', 2);
    const broke = () => {
      throw new Error('listener broke');
    };
    await expect(cluster!.client.waitEach(ids, { onEach: broke })).rejects.toThrow('listener broke');
    await cluster!.client.cancel(ids[0]!);
  });

  it('drover wait prints in the order given, the early outcomes held until the first ends', async () => {
    const ids = await slowThenFast('cw', 10);
    const p = startCli(['wait', ...ids, '--json', ...g]);
    try {
      // 10 of 11 finished (the progress line on stderr says so), none printed: the first is running.
      await waitFor(() => p.stderr().includes('finished 10/11'), { message: 'the 10 early outcomes' });
      expect(p.stdout()).toBe('');
      await cluster!.client.cancel(ids[0]!);
      const r = await p.done;
      expect(r.code, r.stderr).toBe(EXIT.taskCancelled);
      expect((JSON.parse(r.stdout) as Array<{ id: string; state: string }>).map((t) => [t.id, t.state])).toEqual(
        ids.map((id, i) => [id, i === 0 ? 'cancelled' : 'succeeded']),
      );
    } finally {
      p.kill();
    }
  });
});
