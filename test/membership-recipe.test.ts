// The membership recipe on a plain directory, knowing nothing of drover's layout: members
// named for their session, opaque data, a custom parser on the observer's side.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Membership, MembershipObserver } from '../shared/zk/membership.js';
import { SessionPool, testLog } from './harness/zk.js';
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
