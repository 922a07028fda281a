// The membership recipe on a plain directory, knowing nothing of drover's layout: members
// named for their session, opaque data, a custom parser on the observer's side.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Membership, MembershipObserver } from '../shared/zk/membership.js';
import { zkCounters, type ZkSession } from '../shared/zk/session.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { SessionPool, testLog, waitForState, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
afterEach(() => pool.closeAll());

describe('membership recipe', () => {
  it('registers under any directory, runs setup after the node exists, updates and leaves', async () => {
    const admin = await pool.open();
    const dir = `/plain-${randomBytes(4).toString('hex')}/group`;
    await admin.mkdirp(dir);
    const observer = new MembershipObserver(admin, dir, testLog, (_name, data) => ({ text: data.toString('utf8') }));
    await observer.start();

    const s = await pool.open();
    let text = 'hello';
    const seenAtSetup: Array<boolean> = [];
    const m = new Membership(s, dir, (sid) => `m-${sid}`, () => Buffer.from(text), {
      setup: async (name) => void seenAtSetup.push((await s.exists(`${dir}/${name}`)) !== null),
    });
    const registered: string[] = [];
    m.on('registered', (name) => registered.push(name));
    const name = await m.register();
    expect(name).toBe(`m-${s.sessionId}`);
    expect(seenAtSetup).toEqual([true]);
    expect(registered).toEqual([name]);
    expect((await admin.getData(`${dir}/${name}`)).stat.ephemeralOwner).toBe(s.sessionId);
    await waitFor(() => observer.get(name)?.text === 'hello', { message: 'observer sees the member' });

    text = 'changed';
    await m.update();
    await waitFor(() => observer.get(name)?.text === 'changed', { message: 'observer sees the update' });
    await m.close();
    await waitFor(() => observer.get(name) === undefined, { message: 'observer sees it leave' });
    expect(await admin.exists(`${dir}/${name}`)).toBeNull();
    observer.stop();
  });
});

type Reads = { reads: number; listings: number };
const reads = (): Reads => ({ reads: zkCounters.reads, listings: (zkCounters.byKind.getChildren ?? 0) + (zkCounters.byKind.getChildren2 ?? 0) });
const readsSince = (b: Reads): Reads => ({ reads: zkCounters.reads - b.reads, listings: reads().listings - b.listings });

describe('membership observer on a tree watch', () => {
  async function group(observerOpts: Parameters<SessionPool['open']>[0] = {}) {
    const admin = await pool.open();
    const dir = `/plain-${randomBytes(4).toString('hex')}/group`;
    await admin.mkdirp(dir);
    const observer = new MembershipObserver(await pool.open(observerOpts), dir, testLog, (_name, data) => ({ text: data.toString('utf8') }));
    const events: string[] = [];
    observer.on('join', (m) => events.push(`join ${m.name} ${m.text}`));
    observer.on('update', (m) => events.push(`update ${m.name} ${m.text}`));
    observer.on('leave', (n) => events.push(`leave ${n}`));
    await observer.start();
    const join = async (text: string) => {
      const s = await pool.open();
      let t = text;
      const m = new Membership(s, dir, (sid) => `m-${sid}`, () => Buffer.from(t));
      const name = await m.register();
      return { name, m, set: (next: string) => ((t = next), m.update()) };
    };
    return { admin, dir, observer, events, join };
  }

  it('a join costs one read, an update one, a leave none; the same bytes again are no update; nothing lists the group', async () => {
    const g = await group();
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => g.join(`o${i}`)));
    await waitFor(() => g.observer.members().length === 20, { message: '20 members' });
    await g.observer.settled();

    let base = reads();
    const x = await g.join('x');
    await waitFor(() => g.observer.get(x.name)?.text === 'x', { message: 'x joined' });
    await g.observer.settled();
    expect(readsSince(base)).toEqual({ reads: 1, listings: 0 });

    base = reads();
    await x.set('y');
    await waitFor(() => g.observer.get(x.name)?.text === 'y', { message: 'x updated' });
    await x.set('y'); // a write of the same bytes: read, but no update event
    await waitFor(() => readsSince(base).reads === 2, { message: 'second change read' });
    await g.observer.settled();
    expect(readsSince(base)).toEqual({ reads: 2, listings: 0 });

    base = reads();
    await others[0]!.m.close();
    await waitFor(() => g.observer.get(others[0]!.name) === undefined, { message: 'o0 left' });
    await g.observer.settled();
    expect(readsSince(base)).toEqual({ reads: 0, listings: 0 });
    expect(g.events.slice(20)).toEqual([`join ${x.name} x`, `update ${x.name} y`, `leave ${others[0]!.name}`]);
    g.observer.stop();
  });

  it('members that join and leave at once never stay in the view, and each join has its leave', async () => {
    const g = await group();
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const x = await g.join(`q${i}`);
        await x.m.close();
      }),
    );
    await waitFor(async () => {
      await g.observer.settled();
      return g.observer.members().length === 0;
    }, { message: 'view empty' });
    const joined = g.events.filter((e) => e.startsWith('join')).map((e) => e.split(' ')[1]);
    const left = new Set(g.events.filter((e) => e.startsWith('leave')).map((e) => e.split(' ')[1]));
    expect(joined.every((n) => left.has(n))).toBe(true);
    g.observer.stop();
  });

  it('after a reconnect only what changed in the gap is an event: a leave, a join, an update', async () => {
    const [host, port] = zkConnect().split(':');
    const proxy = await TcpProxy.start(host!, Number(port));
    try {
      const g = await group({ connectString: proxy.connectString, sessionTimeoutMs: 4000 });
      const members = await Promise.all(Array.from({ length: 10 }, (_, i) => g.join(`v${i}`)));
      await waitFor(() => g.observer.members().length === 10, { message: '10 members' });
      g.events.length = 0;
      const observerSession = (g.observer as unknown as { session: ZkSession }).session;
      proxy.cut('close');
      await waitForState(observerSession, 'disconnected', 5000);
      await members[0]!.m.close();
      await members[1]!.set('changed');
      const y = await g.join('new');
      expect(observerSession.state).toBe('disconnected');
      proxy.heal();
      await waitFor(() => g.events.length === 3, { timeoutMs: 10_000, message: 'the gap as events' });
      await g.observer.settled();
      expect(g.events.sort()).toEqual([`join ${y.name} new`, `leave ${members[0]!.name}`, `update ${members[1]!.name} changed`].sort());
      g.observer.stop();
    } finally {
      await proxy.stop();
    }
  });
});
