// ZooKeeper auth and ACLs at the session and layout level, on a server of this file's own
// (its locked roots stay out of the suite's shared server): the root's ACL on znodes created
// deep in the layout, NO_AUTH as one line naming the permission, AUTH_FAILED without a
// reconnect loop, and re-authentication after a reconnect and after an expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkSession, type ZkAuth } from '../shared/zk/session.js';
import { AuthFailedError, NoAuthError } from '../shared/zk/errors.js';
import { AclTable, OPEN_ACL } from '../shared/zk/acl.js';
import { aclBytes, digestOf, largestAclBytes, type Acl } from '../shared/zk/acl.js';
import { opsBytes } from '../shared/protocol/task-ops.js';
import { Multi } from '../shared/protocol/multi.js';
import { ensureLayout, openLayout } from '../shared/protocol/layout.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { testLog, uniqueRoot, waitForState } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const ADMIN: ZkAuth = { scheme: 'digest', credentials: 'admin:s3cret' };
const VIEWER: ZkAuth = { scheme: 'digest', credentials: 'viewer:pw' };
const adminId = `admin:${digestOf('admin', 's3cret')}`;
const viewerId = `viewer:${digestOf('viewer', 'pw')}`;
const ROOT_ACL: Acl = [
  { perms: 31, scheme: 'digest', id: adminId },
  { perms: 1, scheme: 'digest', id: viewerId },
];

let server: LocalZkServer;
const sessions: ZkSession[] = [];
const cleanups: Array<() => Promise<void>> = [];
async function open(auth?: ZkAuth[], connectString = server.connectString, sessionTimeoutMs = 2000): Promise<ZkSession> {
  const s = await ZkSession.open({ connectString, auth, sessionTimeoutMs, log: testLog });
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
});
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  for (const c of cleanups.reverse()) await c();
  await server?.stop();
});

describe('ACLs from the root', () => {
  it('a root made with credentials is creator-all; every znode under it carries the root ACL, deep ones too', async () => {
    const admin = await open([ADMIN]);
    const root = uniqueRoot('acl');
    const paths = await ensureLayout(admin, root, 4);
    const rootAcl = (await admin.getACL(root)).acl;
    expect(rootAcl).toEqual([{ perms: 31, scheme: 'digest', id: adminId }]);
    // Layout dirs, a plain create, a mkdirp and a create inside a multi, all under the root.
    const deep = [`${root}/tasks`, paths.layout, `${root}/x`, `${root}/x/y/z`, `${root}/m1`, `${root}/m1/m2`];
    await admin.create(`${root}/x`);
    await admin.mkdirp(`${root}/x/y/z`);
    await admin.multi([{ op: 'create', path: `${root}/m1` }, { op: 'create', path: `${root}/m1/m2`, mode: 'persistent' }]);
    for (const p of deep) expect((await admin.getACL(p)).acl, p).toEqual(rootAcl);
  });

  it('an anonymous root stays open (world:anyone cdrwa), as before', async () => {
    const anon = await open();
    const root = uniqueRoot('open');
    await ensureLayout(anon, root, 4);
    expect((await anon.getACL(`${root}/tasks`)).acl).toEqual([{ perms: 31, scheme: 'world', id: 'anyone' }]);
  });

  it('two roots on one session: each create gets its own root ACL', async () => {
    const admin = await open([ADMIN]);
    const a = uniqueRoot('two-a');
    const b = uniqueRoot('two-b');
    await ensureLayout(admin, a, 4);
    await admin.create(b, undefined, 'persistent', ROOT_ACL);
    await ensureLayout(admin, b, 4);
    expect((await admin.getACL(`${a}/tasks`)).acl).toEqual([{ perms: 31, scheme: 'digest', id: adminId }]);
    expect((await admin.getACL(`${b}/tasks`)).acl).toEqual(ROOT_ACL);
  });
});

describe('request sizes', () => {
  it("a create's size in a multi counts the longest root ACL in use, not OPEN_ACL_UNSAFE", async () => {
    const op = { op: 'create' as const, path: '/r/x', data: Buffer.alloc(10) };
    const before = opsBytes([op]);
    const largest = largestAclBytes(); // other tests of this file made roots with longer ACLs already
    const admin = await open([ADMIN]);
    const big: Acl = Array.from({ length: 8 }, (_, i) => ({ perms: i === 0 ? 31 : 1, scheme: 'digest', id: i === 0 ? adminId : `user-with-a-long-name-${i}:${digestOf(`u${i}`, 'p')}` }));
    const root = uniqueRoot('big-acl');
    await admin.create(root, undefined, 'persistent', big);
    await ensureLayout(admin, root, 4);
    expect(aclBytes(big)).toBeGreaterThan(largest);
    expect(opsBytes([op]) - before).toBe(aclBytes(big) - largest);
  });
});

describe('refused requests', () => {
  it('NO_AUTH is one line naming the permission and the node; never retried', async () => {
    const admin = await open([ADMIN]);
    const root = uniqueRoot('deny');
    await admin.create(root, undefined, 'persistent', ROOT_ACL);
    const paths = await ensureLayout(admin, root, 4);
    const t1 = paths.task('t1');
    const t2 = paths.task('t2');
    const dir2 = t2.slice(0, t2.lastIndexOf('/'));
    await admin.create(t1, Buffer.from('{"payload":1}'));
    const anon = await open();
    const viewer = await open([VIEWER]);

    const read = (await anon.getData(`${t1}`).catch((e: unknown) => e)) as NoAuthError;
    expect(read).toBeInstanceOf(NoAuthError);
    expect(read.message).toBe(`permission denied: getData ${t1} needs READ on ${t1} (this client: anonymous; check --zk-auth)`);
    const t0 = Date.now();
    const create = (await viewer.retrying(() => viewer.create(`${t2}`)).catch((e: unknown) => e)) as NoAuthError;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(create.message).toBe(`permission denied: create ${t2} needs CREATE on ${dir2} (this client: digest:viewer; check --zk-auth)`);
    const ops = [{ op: 'check' as const, path: paths.layout }, { op: 'setData' as const, path: `${t1}`, data: Buffer.from('x') }];
    const commit = (await anon.multi(ops).catch((e: unknown) => e)) as NoAuthError;
    expect(commit).toBeInstanceOf(NoAuthError);
    expect(commit.message).toBe(`permission denied: check ${paths.layout} (op 0 of a multi) needs READ on ${paths.layout} (this client: anonymous; check --zk-auth)`);
    expect(commit.opIndex).toBe(0);
    // The protocol never reads it as a moved node (re-read and tried again, in a loop): thrown as it came.
    await expect(new Multi(paths).add(0, ops).send(anon)).rejects.toBeInstanceOf(NoAuthError);
    await expect(anon.setData(`${t1}`, Buffer.from('x'))).rejects.toThrow(/needs WRITE on/);
    // The viewer reads (getData, multiRead), but sees the root's ACL masked: it never creates with it.
    expect((await viewer.getData(`${t1}`)).data.toString()).toBe('{"payload":1}');
    expect(await openLayout(viewer, root)).not.toBeNull();
    expect(() => viewer.aclFor(`${t2}x`)).toThrow(/needs CREATE on .*digest:viewer/);
    expect((await admin.getData(`${t1}`)).data.toString()).toBe('{"payload":1}');
  });

  it("the per-root ACL table: /drover2 is not under /drover; the deepest root wins; no root: open", () => {
    const t = new AclTable();
    const a: Acl = [{ perms: 31, scheme: 'digest', id: 'a:h' }];
    const b: Acl = [{ perms: 1, scheme: 'world', id: 'anyone' }];
    const c: Acl = [{ perms: 31, scheme: 'digest', id: 'c:h' }];
    t.set('/drover', a);
    t.set('/drover2', b);
    t.set('/drover/inner', c);
    expect(t.forPath('/drover/tasks/0a/t1')).toEqual({ root: '/drover', acl: a });
    expect(t.forPath('/drover')).toEqual({ root: '/drover', acl: a });
    expect(t.forPath('/drover2/tasks/0a/t1')).toEqual({ root: '/drover2', acl: b });
    expect(t.forPath('/drover22/x')).toEqual({ acl: OPEN_ACL });
    expect(t.forPath('/drover/inner/x')).toEqual({ root: '/drover/inner', acl: c });
    expect(t.forPath('/droverx')).toEqual({ acl: OPEN_ACL });
  });

  it('AUTH_FAILED (a scheme the server lacks): open() rejects in one line, no reconnect loop', async () => {
    const t0 = Date.now();
    const err = await ZkSession.open({ connectString: server.connectString, auth: [{ scheme: 'nosuch', credentials: 'a:b' }], log: testLog }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthFailedError);
    expect((err as Error).message).toMatch(/refused the credentials of nosuch .*AUTH_FAILED/);
    expect((err as Error).message).not.toContain('a:b');
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});

describe('re-authentication', () => {
  it('after a reconnect (connection cut) and after an expiry, requests run as the same identity', async () => {
    const admin = await open([ADMIN]);
    const root = uniqueRoot('reauth');
    await admin.create(root, undefined, 'persistent', [{ perms: 31, scheme: 'digest', id: adminId }]);
    await admin.create(`${root}/n`, Buffer.from('v'));
    const proxy = await TcpProxy.start('127.0.0.1', server.port);
    cleanups.push(() => proxy.stop());
    const s = await open([ADMIN], proxy.connectString, 2000);
    expect((await s.getData(`${root}/n`)).data.toString()).toBe('v');

    // Reconnect, same session: a request queued while disconnected runs after the auth.
    s.useRootAcl(root, [{ perms: 31, scheme: 'digest', id: adminId }]);
    const gen = s.generation;
    proxy.cut('close');
    await waitForState(s, 'disconnected');
    const queued = s.getData(`${root}/n`);
    proxy.heal();
    await waitForState(s, 'connected');
    expect((await queued).data.toString()).toBe('v');
    expect(s.generation).toBe(gen);

    // Expiry: the proxy holds traffic past the session timeout; the new session re-authenticates.
    proxy.cut('blackhole');
    await waitForState(s, 'expired', 15_000);
    proxy.heal();
    await waitFor(() => s.generation > gen && s.state === 'connected', { timeoutMs: 15_000, message: 'new session' });
    expect((await s.getData(`${root}/n`)).data.toString()).toBe('v');
    await s.create(`${root}/after-expiry`);
    expect((await admin.getACL(`${root}/after-expiry`)).acl[0]!.id).toBe(adminId);
  });
});
