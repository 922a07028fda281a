// drover init --update on a root of thousands of tasks: one setACL per znode, a listing only of
// znodes with children (counted by the process's request counters), and the refusals: ZooKeeper's
// own tree, a path with no drover layout, an update taking c/w from a running identity (unless
// --force); the c-without-a warning and the "run it again" line; a root that appears between
// init's check and its create is not reported as created. A ZooKeeper of this file's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { ZkSession, resetZkCounters, zkCounters } from '../shared/zk/session.js';
import { parseAclSpec, type Acl } from '../shared/zk/acl.js';
import { RootAppearedError, initRoot, updateRootAcl } from '../shared/protocol/root-acl.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { runCli } from './harness/cli-run.js';
import { testLog, uniqueRoot } from './harness/zk.js';

const ADMIN = 'digest:admin:s3cret';
const acl = (...specs: string[]): Acl => specs.map((s) => {
  const { user: _u, ...e } = parseAclSpec(s);
  return e;
});
let server: LocalZkServer;
let admin: ZkSession;
const env = { DROVER_ZK_AUTH: undefined, DROVER_ZK_AUTH_FILE: undefined } as unknown as NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
  admin = await ZkSession.open({ connectString: server.connectString, auth: [{ scheme: 'digest', credentials: 'admin:s3cret' }], log: testLog });
});
afterAll(async () => {
  await admin?.close();
  await server?.stop();
});

/** Every znode under `root` and how many of them have children (a walk of our own). */
async function census(s: ZkSession, root: string): Promise<{ znodes: number; dirs: number }> {
  let znodes = 0;
  let dirs = 0;
  const walk = async (p: string): Promise<void> => {
    znodes += 1;
    const { children } = await s.getChildren(p);
    if (children.length > 0) dirs += 1;
    for (let i = 0; i < children.length; i += 200) await Promise.all(children.slice(i, i + 200).map((c) => walk(`${p}/${c}`)));
  };
  await walk(root);
  return { znodes, dirs };
}

describe('init --update', () => {
  it('sets the ACL on every znode of a root of 3000 tasks and lists only the directories, in few multiReads', async () => {
    const root = uniqueRoot('big');
    await initRoot(admin, root, acl(`${ADMIN}:cdrwa`));
    const client = await DroverClient.connect({ session: admin, root, createLayout: false });
    await client.submitMany(Array.from({ length: 3000 }, (_, i) => ({ type: 'echo', id: `t-${i}` })));
    const before = await census(admin, root);
    expect(before.znodes).toBeGreaterThan(6000); // a record and a queue entry each

    const next = acl(`${ADMIN}:cdrwa`, 'world:anyone:r');
    resetZkCounters();
    const r = await updateRootAcl(admin, root, next);
    const counted = { ...zkCounters, byKind: { ...zkCounters.byKind } };
    expect(r.updated).toBe(before.znodes);
    expect(r.listed).toBe(before.dirs);
    // The listings are the only reads: one per directory, not one per znode.
    expect(counted.reads).toBe(before.dirs);
    expect(counted.byKind.setACL).toBe(before.znodes);
    expect(counted.byKind.multiRead ?? 0).toBeLessThan(Math.max(4, before.dirs / 20));
    expect(counted.byKind.getChildren ?? 0).toBe(0);
    for (const p of [root, `${root}/layout`]) expect((await admin.getACL(p)).acl).toEqual(next);
  });
});

describe('drover init refuses', () => {
  const g = (root: string) => ['--zk', server.connectString, '--root', root, '--zk-auth', ADMIN];

  it("ZooKeeper's own tree, and a path holding no drover layout (nothing changed)", async () => {
    const zk = await runCli(['init', ...g('/zookeeper/quota'), '--update'], { env });
    expect(zk.code).toBe(2);
    expect(zk.stderr).toMatch(/\/zookeeper\/quota is ZooKeeper's own tree/);
    const other = uniqueRoot('other');
    await admin.mkdirp(`${other}/app/config`);
    const r = await runCli(['init', ...g(other), '--update', '--acl', `${ADMIN}:cdrwa`], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`drover: ${other} holds no drover layout (no ${other}/layout): init --update only sets the ACL of a drover root\n`);
    expect((await admin.getACL(`${other}/app`)).acl).toEqual([{ perms: 31, scheme: 'world', id: 'anyone' }]);
  });

  it('an update taking c or w from an identity the root grants them (unless --force); warns of c without a; says to run it again', async () => {
    const root = uniqueRoot('drop');
    const init = await runCli(['init', ...g(root), '--acl', `${ADMIN}:cdrwa`, '--acl', 'digest:ops:pw:cdrwa'], { env });
    expect(init.code, init.stderr).toBe(0);
    const drop = await runCli(['init', ...g(root), '--update', '--acl', `${ADMIN}:cdrwa`, '--acl', 'digest:ops:pw:r'], { env });
    expect(drop.code).toBe(1);
    expect(drop.stderr).toMatch(/^drover: --update would take c or w from digest:ops:cdrwa \(its running masters and workers would be refused mid-run\)/);
    expect((await admin.getACL(root)).acl.find((e) => e.id.startsWith('ops:'))!.perms).toBe(31);
    const forced = await runCli(['init', ...g(root), '--update', '--force', '--acl', `${ADMIN}:cdrwa`, '--acl', 'digest:ops:pw:cdrw'], { env });
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/warning: digest:ops:cdrw lacks a: its masters and workers read a masked copy/);
    expect(forced.stdout).toMatch(/: ACL set on \d+ znodes; ACL digest:admin:cdrwa, digest:ops:cdrw\n/);
    expect(forced.stdout).toContain('restart masters and workers, then run init --update again\n');
  });

  it('a root that appeared between its check and its create (a master starting): not "created"', async () => {
    const root = uniqueRoot('race');
    const master = await ZkSession.open({ connectString: server.connectString, log: testLog });
    try {
      await ensureLayout(master, root); // anonymous: an open root
    } finally {
      await master.close();
    }
    await expect(initRoot(admin, root, acl(`${ADMIN}:cdrwa`))).rejects.toThrow(RootAppearedError);
    expect((await admin.getACL(root)).acl).toEqual([{ perms: 31, scheme: 'world', id: 'anyone' }]);
  });
});
