// Persistent recursive watches (watchTree) against a real server: deep descendants in zxid
// order without re-arming, one-shot watches beside them (data and child, on a descendant and
// on the root itself, ZooKeeper 3.8.0's one mode per path), close() with and without
// one-shots held on the root, a chroot, and a throwing listener. Reconnects and expiry:
// tree-watch-reconnect.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import type { TreeEvent, ZkSession } from '../shared/zk/session.js';
import { watch as watchInto, wireEvents } from './harness/tree-watch-helpers.js';
import { SessionPool, uniqueRoot, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pool.closeAll();
});

const watch = (s: ZkSession, root: string) => watchInto(cleanups, s, root);

describe('watchTree', () => {
  it('delivers created/changed/deleted of deep descendants, in order, without re-arming', async () => {
    const s = await pool.open();
    const writer = await pool.open();
    const root = uniqueRoot('tw');
    await writer.mkdirp(root);
    const { r } = await watch(s, root);
    expect(r.resets).toBe(1); // once, when first armed
    await writer.create(`${root}/a`);
    await writer.create(`${root}/a/b`);
    await writer.create(`${root}/a/b/c`, Buffer.from('1'));
    for (let i = 0; i < 20; i++) await writer.setData(`${root}/a/b/c`, Buffer.from(String(i)));
    await writer.setData(root, Buffer.from('root'));
    await writer.multi([
      { op: 'remove', path: `${root}/a/b/c` },
      { op: 'remove', path: `${root}/a/b` },
    ]);
    await writer.create(`${root}/z`, Buffer.alloc(0), 'persistent_sequential');
    const expected: TreeEvent[] = [
      { type: 'created', path: `${root}/a` },
      { type: 'created', path: `${root}/a/b` },
      { type: 'created', path: `${root}/a/b/c` },
      ...Array.from({ length: 20 }, () => ({ type: 'changed' as const, path: `${root}/a/b/c` })),
      { type: 'changed', path: root },
      { type: 'deleted', path: `${root}/a/b/c` },
      { type: 'deleted', path: `${root}/a/b` },
    ];
    await waitFor(() => r.events.length >= expected.length + 1, { timeoutMs: 5000, message: 'all events' });
    expect(r.events.slice(0, expected.length)).toEqual(expected);
    expect(r.events[expected.length]).toMatchObject({ type: 'created', path: expect.stringMatching(new RegExp(`^${root}/z\\d{10}$`)) });
    expect(r.resets).toBe(1);
    // Nothing outside the root.
    await writer.create(`${root}-sibling`);
    await writer.remove(`${root}-sibling`);
    await writer.setData(`${root}/a`, Buffer.from('last'));
    await waitFor(() => r.events.at(-1)?.path === `${root}/a`, { timeoutMs: 5000, message: 'last event' });
    expect(r.events.some((e) => e.path.startsWith(`${root}-sibling`))).toBe(false);
  });

  it('one-shot watches beside a tree watch still fire, on a descendant and on the root itself', async () => {
    const s = await pool.open();
    const writer = await pool.open();
    const root = uniqueRoot('tw-one');
    await writer.mkdirp(`${root}/x`);
    const { r } = await watch(s, root);
    const fired: string[] = [];
    await s.getData(`${root}/x`, (e) => fired.push(`x:${e.type}`));
    // A one-shot data watch on the root itself: ZooKeeper 3.8.0 keeps one mode per path and
    // connection, so the session adds the recursive watch again (and resets its listeners).
    await s.exists(root, (e) => fired.push(`root:${e.type}`));
    await waitFor(() => r.resets === 2, { timeoutMs: 5000, message: 'tree watch re-asserted' });
    await writer.setData(`${root}/x`, Buffer.from('1'));
    await writer.setData(root, Buffer.from('1'));
    await writer.create(`${root}/x/deep`);
    await waitFor(() => r.events.length === 3 && fired.length === 2, { timeoutMs: 5000, message: 'events' });
    expect(fired).toEqual(['x:changed', 'root:changed']);
    expect(r.events).toEqual([
      { type: 'changed', path: `${root}/x` },
      { type: 'changed', path: root },
      { type: 'created', path: `${root}/x/deep` },
    ]);
    // One-shot: the second change fires no one-shot watch, and the tree watch goes on.
    await writer.setData(`${root}/x`, Buffer.from('2'));
    await waitFor(() => r.events.length === 4, { timeoutMs: 5000, message: 'tree event after the one-shots' });
    expect(fired).toHaveLength(2);
  });

  it('a one-shot child watch on a root set before its watchTree still fires, once (ZooKeeper 3.8 swallows it)', async () => {
    const s = await pool.open();
    const writer = await pool.open();
    const root = uniqueRoot('tw-child');
    await writer.mkdirp(root);
    const fired: string[] = [];
    await s.getChildren(root, (e) => fired.push(`${e.type}:${e.path}`));
    const wire = wireEvents(s);
    const { r } = await watch(s, root);
    await writer.create(`${root}/c1`);
    await waitFor(() => fired.length === 1, { timeoutMs: 5000, message: 'the child one-shot fires' });
    expect(fired).toEqual([`children:${root}`]);
    // The server sent no NodeChildrenChanged: the addWatch made the child watch recursive.
    expect(wire.filter((e) => e.type === 4)).toEqual([]);
    await writer.create(`${root}/c2`);
    await writer.remove(`${root}/c1`);
    await waitFor(() => r.events.length === 3, { timeoutMs: 5000, message: 'tree events' });
    expect(fired).toHaveLength(1); // one-shot
    // Re-armed by its consumer, it fires on the next change (a delete), once.
    await s.getChildren(root, (e) => fired.push(`${e.type}:${e.path}`));
    await writer.remove(`${root}/c2`);
    await waitFor(() => fired.length === 2, { timeoutMs: 5000, message: 'the re-armed child one-shot fires' });
    await s.getData(root); // any further notification would come before this reply
    expect(fired).toEqual([`children:${root}`, `children:${root}`]);
  });

  it('a one-shot data watch on the root (re-add) fires its held child watchers once: its gap may hide a change', async () => {
    const s = await pool.open();
    const writer = await pool.open();
    const root = uniqueRoot('tw-gap');
    await writer.mkdirp(root);
    const fired: string[] = [];
    await s.getChildren(root, (e) => fired.push(`child:${e.type}`));
    const { r } = await watch(s, root);
    await s.exists(root, (e) => fired.push(`data:${e.type}`));
    await waitFor(() => r.resets === 2, { timeoutMs: 5000, message: 'tree watch re-asserted' });
    await waitFor(() => fired.length === 1, { timeoutMs: 5000, message: 'the child one-shot fires after the re-add' });
    expect(fired).toEqual(['child:children']);
    await writer.setData(root, Buffer.from('x'));
    await writer.create(`${root}/c1`);
    await waitFor(() => fired.length === 2 && r.events.length === 2, { timeoutMs: 5000, message: 'data one-shot and tree events' });
    expect(fired).toEqual(['child:children', 'data:changed']);
  });

  it('close() stops delivery; the server-side watch goes with the last listener on the root', async () => {
    const s = await pool.open();
    const writer = await pool.open();
    const root = uniqueRoot('tw-close');
    await writer.mkdirp(root);
    const a = await watch(s, root);
    const b = await watch(s, root);
    const wire = wireEvents(s);
    await a.w.close();
    await writer.create(`${root}/one`);
    await waitFor(() => b.r.events.length === 1, { timeoutMs: 5000, message: 'b gets the event' });
    expect(a.r.events).toEqual([]);
    await b.w.close();
    await b.w.close(); // idempotent
    await writer.create(`${root}/two`);
    await writer.setData(`${root}/one`, Buffer.from('x'));
    // A read on the watching connection after the writes: any notification of them would
    // come before its reply.
    await s.getData(`${root}/one`);
    expect(b.r.events).toHaveLength(1);
    expect(wire.filter((e) => e.path.startsWith(root)).map((e) => e.path)).toEqual([`${root}/one`]);
  });

  it('close() with one-shots held on the root: the tree stops streaming, the one-shots still fire', async () => {
    const s = await pool.open();
    const writer = await pool.open();
    const held = { data: uniqueRoot('tw-close-d'), child: uniqueRoot('tw-close-c') };
    for (const root of Object.values(held)) await writer.mkdirp(`${root}/x`);
    const fired: string[] = [];
    const a = await watch(s, held.data);
    await s.exists(held.data, (e) => fired.push(`data:${e.type}`));
    await waitFor(() => a.r.resets === 2, { timeoutMs: 5000, message: 'tree watch re-asserted' });
    await s.getChildren(held.child, (e) => fired.push(`child:${e.type}`));
    const b = await watch(s, held.child);
    await a.w.close();
    await b.w.close();
    const wire = wireEvents(s);
    for (const root of Object.values(held)) {
      for (let i = 0; i < 3; i++) await writer.create(`${root}/x/n${i}`);
      await writer.setData(`${root}/x`, Buffer.from('x'));
      await writer.remove(`${root}/x/n0`);
    }
    await s.getData(held.data); // any notification of those writes comes before this reply
    expect(wire).toEqual([]);
    expect(fired).toEqual([]);
    await writer.setData(held.data, Buffer.from('1'));
    await writer.create(`${held.child}/y`);
    await waitFor(() => fired.length === 2, { timeoutMs: 5000, message: 'the held one-shots fire' });
    expect(fired.sort()).toEqual(['child:children', 'data:changed']);
    await writer.setData(held.data, Buffer.from('2'));
    await writer.create(`${held.child}/z`);
    await s.getData(held.data);
    expect(wire.map((e) => [e.type, e.path])).toEqual([
      [3, held.data],
      [4, held.child],
    ]);
  });

  it('over a chroot: events carry chroot-relative paths', async () => {
    const root = uniqueRoot('tw-chroot');
    const writer = await pool.open();
    await writer.mkdirp(`${root}/jobs`);
    const s = await pool.open({ connectString: zkConnect() + root });
    const { r } = await watch(s, '/jobs');
    await writer.create(`${root}/jobs/j1`);
    await writer.create(`${root}/other`);
    await writer.remove(`${root}/jobs/j1`);
    await waitFor(() => r.events.length === 2, { timeoutMs: 5000, message: 'events' });
    expect(r.events).toEqual([
      { type: 'created', path: '/jobs/j1' },
      { type: 'deleted', path: '/jobs/j1' },
    ]);
  });

  it('rejects a malformed path, and a closed session', async () => {
    const s = await pool.open();
    await expect(s.watchTree('nope', () => {}, () => {})).rejects.toMatchObject({ code: 'ZK_ERROR' });
    await s.close();
    await expect(s.watchTree('/', () => {}, () => {})).rejects.toMatchObject({ code: 'SESSION_CLOSED' });
  });
});

describe('watchTree and the session', () => {
  it('a listener that throws does not drop the connection; close() of the session stops delivery', async () => {
    const s = await pool.open();
    const writer = await pool.open();
    const root = uniqueRoot('tw-throw');
    await writer.mkdirp(root);
    const states: string[] = [];
    s.on('state', (st) => states.push(st));
    const seen: string[] = [];
    await s.watchTree(root, (e) => {
      seen.push(e.path);
      throw new Error('listener bug');
    }, () => {});
    await writer.create(`${root}/a`);
    await writer.create(`${root}/b`);
    await waitFor(() => seen.length === 2, { timeoutMs: 5000, message: 'both events despite the throw' });
    expect(states).toEqual([]);
    await s.close();
    await writer.create(`${root}/c`);
    await writer.getData(`${root}/c`);
    expect(seen).toEqual([`${root}/a`, `${root}/b`]);
  });
});
