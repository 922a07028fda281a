// Persistent recursive watches (watchTree) across reconnects, against a real server behind a
// TCP proxy: re-added with onReset after a cut (same session) and after a real expiry;
// opened while disconnected beside a one-shot on its root (the reconnect's SetWatches goes
// first); a one-shot child watch on the root after a reconnect; an addWatch that timed out
// while disconnected is never sent.
import { afterEach, describe, expect, it } from 'vitest';
import { ZkSession, zkCounters } from '../shared/zk/session.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { proxiedSession } from './harness/proxied-session.js';
import { recorder, watch as watchInto, wireEvents } from './harness/tree-watch-helpers.js';
import { SessionPool, testLog, uniqueRoot, waitForState, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pool.closeAll();
});

const watch = (s: ZkSession, root: string) => watchInto(cleanups, s, root);

describe('watchTree across reconnects', () => {
  const proxied = (sessionTimeoutMs: number) => proxiedSession(sessionTimeoutMs, cleanups);

  it('after a TCP cut (same session): re-added, onReset, and later events arrive', async () => {
    const { proxy, session } = await proxied(4000);
    const writer = await pool.open();
    const root = uniqueRoot('tw-cut');
    await writer.mkdirp(root);
    const { r } = await watch(session, root);
    await writer.create(`${root}/before`);
    await waitFor(() => r.events.length === 1, { timeoutMs: 5000, message: 'event before the cut' });
    const id = session.sessionId;
    proxy.cut('close');
    await waitForState(session, 'disconnected', 5000);
    await writer.create(`${root}/during`); // missed: the reset is what tells the consumer
    proxy.heal();
    await waitFor(() => r.resets === 2, { timeoutMs: 10_000, message: 'onReset after the reconnect' });
    expect(session.sessionId).toBe(id);
    expect(session.generation).toBe(0);
    await writer.create(`${root}/after`);
    await writer.setData(`${root}/before`, Buffer.from('x'));
    await waitFor(() => r.events.some((e) => e.path === `${root}/before` && e.type === 'changed'), {
      timeoutMs: 5000,
      message: 'events after the reconnect',
    });
    expect(r.events.filter((e) => e.path !== `${root}/during`)).toEqual([
      { type: 'created', path: `${root}/before` },
      { type: 'created', path: `${root}/after` },
      { type: 'changed', path: `${root}/before` },
    ]);
    expect(r.resets).toBe(2);
  });

  it('opened while disconnected beside a one-shot on its root: armed after the reconnect SetWatches, events arrive', async () => {
    const { proxy, session } = await proxied(8000);
    const writer = await pool.open();
    const root = uniqueRoot('tw-order');
    await writer.mkdirp(root);
    const fired: string[] = [];
    await session.exists(root, (e) => fired.push(e.type));
    proxy.cut('close');
    await waitForState(session, 'disconnected', 5000);
    const r = recorder();
    const opening = session.watchTree(root, r.onEvent, r.onReset);
    // A few TCP connects the proxy cuts: the addWatch waits in the queue through them.
    const connects = zkCounters.byKind.connect ?? 0;
    await waitFor(() => (zkCounters.byKind.connect ?? 0) - connects >= 2, { timeoutMs: 5000, message: 'reconnect attempts' });
    proxy.heal();
    cleanups.push(async () => (await opening).close());
    await opening;
    expect(r.resets).toBe(1);
    // The library sent the queued addWatch before the SetWatches re-setting the one-shot on
    // the root, which made the recursive watch a one-shot again: no event of the children.
    await writer.create(`${root}/c1`);
    await writer.create(`${root}/c2`);
    await writer.setData(root, Buffer.from('x'));
    await waitFor(() => r.events.length === 3, { timeoutMs: 5000, message: 'events of the tree watch opened while disconnected' });
    expect(r.events).toEqual([
      { type: 'created', path: `${root}/c1` },
      { type: 'created', path: `${root}/c2` },
      { type: 'changed', path: root },
    ]);
    await waitFor(() => fired.length === 1, { timeoutMs: 5000, message: 'the one-shot fires' });
    expect(fired).toEqual(['changed']);
  });

  it('a one-shot child watch on a root still fires after a reconnect (SetWatches, then the re-add)', async () => {
    const { proxy, session } = await proxied(4000);
    const writer = await pool.open();
    const root = uniqueRoot('tw-child-cut');
    await writer.mkdirp(root);
    const { r } = await watch(session, root);
    const fired: string[] = [];
    await session.getChildren(root, (e) => fired.push(e.type));
    proxy.cut('close');
    await waitForState(session, 'disconnected', 5000);
    proxy.heal();
    await waitFor(() => r.resets === 2, { timeoutMs: 10_000, message: 'onReset after the reconnect' });
    await writer.create(`${root}/c1`);
    await waitFor(() => fired.length === 1 && r.events.length === 1, { timeoutMs: 5000, message: 'the child one-shot fires' });
    expect(fired).toEqual(['children']);
  });

  it('a watchTree whose addWatch times out while disconnected leaves no watch on the server', async () => {
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    cleanups.push(() => proxy.stop());
    const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs: 8000, requestTimeoutMs: 500, log: testLog });
    cleanups.push(() => session.close());
    const writer = await pool.open();
    const root = uniqueRoot('tw-orphan');
    await writer.mkdirp(root);
    proxy.cut('close');
    await waitForState(session, 'disconnected', 5000);
    const r = recorder();
    await expect(session.watchTree(root, r.onEvent, r.onReset)).rejects.toMatchObject({ code: 'REQUEST_TIMEOUT' });
    proxy.heal();
    await waitForState(session, 'connected', 10_000);
    await session.getData(root); // after whatever waited in the queue
    const wire = wireEvents(session);
    for (let i = 0; i < 3; i++) await writer.create(`${root}/n${i}`);
    await session.getData(root); // any notification of those writes comes before this reply
    // The library sent the timed-out addWatch after the reconnect: 3 events nobody holds.
    expect(wire).toEqual([]);
    expect(r.events).toEqual([]);
    expect(r.resets).toBe(0);
  });

  it('after a real session expiry: re-added in the new session, onReset, and later events arrive', async () => {
    const { proxy, session } = await proxied(1200);
    const writer = await pool.open();
    const root = uniqueRoot('tw-exp');
    await writer.mkdirp(root);
    const { r } = await watch(session, root);
    const firstId = session.sessionId;
    const renewed = new Promise<string>((res) => session.once('session', (sid) => res(sid)));
    proxy.cut('blackhole');
    await waitForState(session, 'expired', 10_000);
    proxy.heal();
    expect(await renewed).not.toBe(firstId);
    await waitFor(() => r.resets === 2, { timeoutMs: 10_000, message: 'onReset in the new session' });
    await writer.create(`${root}/after-expiry`);
    await waitFor(() => r.events.some((e) => e.path === `${root}/after-expiry`), { timeoutMs: 5000, message: 'event in the new session' });
    expect(r.events).toEqual([{ type: 'created', path: `${root}/after-expiry` }]);
  });
});
