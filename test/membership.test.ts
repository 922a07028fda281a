// Membership under races: the observer's view of workers/ must not lose a change that lands
// while it reads.
import { afterEach, describe, expect, it } from 'vitest';
import { MembershipObserver, WorkerRegistration } from '../shared/zk/membership.js';
import { SessionPool, freshLayout, testLog } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

describe('membership observer', () => {
  it('a change that lands while the view is being read is not lost (a worker seen as init stays init)', async () => {
    const watcherSession = await pool.open();
    const paths = await freshLayout(watcherSession);
    const observer = new MembershipObserver(watcherSession, paths, testLog);
    stops.push(async () => observer.stop());
    await observer.start();
    // Each worker registers ('init') and at once says it is alive, as Worker.start() does:
    // the observer reads the node while (or just before) it changes.
    for (let i = 0; i < 25; i++) {
      const reg = new WorkerRegistration(await pool.open(), paths, { id: `w${i}`, capacity: 1 }, testLog);
      stops.push(() => reg.close());
      const name = await reg.register();
      await reg.setState('alive');
      await waitFor(() => observer.get(name)?.state === 'alive', { timeoutMs: 3000, message: `${name} seen alive` });
    }
  }, 60_000);
});
