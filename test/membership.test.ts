// Membership under races. The observer's view of workers/ must not lose a change that lands
// while it reads. And a worker registering while a leader rebuilds its picture: the leader
// reads the member view, then every assignment directory, and reclaims (deletes) the
// directories of members it did not see; a worker registering in between used to lose its
// directory (created before its member node) and never got work: the leader's assignments
// failed on the missing parent.
import { afterEach, describe, expect, it } from 'vitest';
import { Master } from '../master/master.js';
import { DroverClient } from '../client/drover-client.js';
import { MembershipObserver } from '../shared/zk/membership.js';
import { WorkerRegistration } from '../worker/registration.js';
import type { ZkSession } from '../shared/zk/session.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog } from './harness/zk.js';
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

describe('worker registration vs. a rebuilding leader', () => {
  it('register() creates the member node before its assignment directory', async () => {
    const s = await pool.open();
    const paths = await freshLayout(s);
    const created: string[] = [];
    const spy = Object.create(s) as ZkSession;
    spy.create = (path: string, data?: Buffer, mode?: Parameters<ZkSession['create']>[2]) => {
      created.push(path);
      return s.create(path, data, mode);
    };
    const reg = new WorkerRegistration(spy, paths, { id: 'w1', capacity: 1 }, testLog);
    stops.push(() => reg.close());
    const name = await reg.register();
    expect(created).toEqual([paths.member(name), paths.assignDir(name)]);
  });

  it('a worker registering while a new leader rebuilds keeps its directory and gets work', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const client = await DroverClient.connect({ session: admin, root: paths.root });
    // Many rounds of: a leader starts (reads the view, then the directories) while a worker
    // registers; each time the worker's directory must survive and a task must reach it.
    // The registration starts a little later each round, to sweep the rebuild's window.
    for (let round = 0; round < 30; round++) {
      const master = new Master({ session: await pool.open(), root: paths.root, id: `m${round}`, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
      const reg = new WorkerRegistration(await pool.open(), paths, { id: `w${round}`, capacity: 1 }, testLog);
      const registered = new Promise<void>((r) => setTimeout(r, round / 2)).then(() => reg.register());
      const [, name] = await Promise.all([master.start(), registered]);
      await reg.setState('alive');
      await waitFor(() => master.isLeader, { message: `m${round} leads` });
      // Give a rebuild racing the registration time to (wrongly) reclaim the directory.
      await new Promise((r) => setTimeout(r, 150));
      expect(await admin.exists(paths.assignDir(name)), `round ${round}: directory of ${name}`).not.toBeNull();
      const { id } = await client.submit({ type: 'echo', id: `r${round}` });
      await waitFor(async () => (await admin.getChildren(paths.assignDir(name))).children.length === 1, {
        timeoutMs: 5000,
        message: `round ${round}: task ${id} assigned to ${name}`,
      });
      await reg.close();
      await master.stop();
    }
  }, 90_000);
});
