// `drover admin roots` and `drover admin destroy` against a ZooKeeper of this file's own (the
// walk starts at `/`, where the suite's shared server holds every other file's roots): which
// znodes count as roots, the walk's bounds, and destroy's refusals, its removal of everything
// under a root (and nothing beside it), in bounded batches.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRoots, readRoot, type RootInfo } from '../client/admin-roots.js';
import { checkDestroyable, DestroyRefusedError, destroyRoot, REMOVE_BATCH } from '../client/admin-destroy.js';
import { EXIT } from '../cli/exit-codes.js';
import { Master } from '../master/master.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { freePort, startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { zkCounters, ZkSession } from '../shared/zk/session.js';
import { runCli } from './harness/cli-run.js';
import { ProcessPool } from './harness/processes.js';
import { tempDir } from './harness/temp.js';
import { TEST_SESSION_MS, testLog } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';
import { countTree as countTreeOf, fillRoot } from './harness/root-tree.js';

let server: LocalZkServer | undefined;
let s: ZkSession;
let master: Master | undefined;
let masterSession: ZkSession | undefined;
const procs = new ProcessPool();
const zk = () => ['--zk', server!.connectString, '--session-timeout', '2s'];

const countTree = (path: string) => countTreeOf(s, path);
const submit = (root: string, shards: number, count: number) => fillRoot(s, root, shards, count);

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
  s = await ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  await submit('/team-a', 8, 5);
  await submit('/team-b', 8, 3);
  await submit('/apps/x/team-c', 4, 1); // deeper down
  // Not drover: a plain tree, and a `layout` child that is no layout.
  await s.mkdirp('/other/app/config', Buffer.from('{"a":1}'));
  await s.mkdirp('/other/fake/layout', Buffer.from('{"format":1}'));
  masterSession = await ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  master = new Master({ session: masterSession, root: '/team-b', id: 'mb', sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  await master.start();
  procs.spawn('wa', ['worker', '--id', 'wa', '--root', '/team-a', ...zk()]);
  await waitFor(async () => (await readRoot(s, '/team-a'))?.workers === 1, { message: 'worker wa up under /team-a' });
}, 30_000);
afterAll(async () => {
  await procs.killAll();
  await master?.stop().catch(() => undefined);
  await masterSession?.close(); // a Master does not close a session it was given
  await s?.close();
  await server?.stop();
});

const rootsJson = async (): Promise<{ roots: RootInfo[]; stderr: string }> => {
  const r = await runCli(['admin', 'roots', '--json', ...zk()]);
  expect(r.code, r.stderr).toBe(EXIT.ok);
  return { roots: JSON.parse(r.stdout) as RootInfo[], stderr: r.stderr };
};

describe('drover admin roots', () => {
  it('lists every root with its counts, not the non-drover trees', async () => {
    const { roots, stderr } = await rootsJson();
    expect(stderr).toBe('');
    expect(roots.map((r) => r.root)).toEqual(['/team-a', '/team-b', '/apps/x/team-c']); // breadth first
    expect(roots[0]).toMatchObject({ state: 'ok', shards: 8, masters: 0, workers: 1, tasks: 5, queued: 5 });
    expect(roots[1]).toMatchObject({ shards: 8, masters: 1, workers: 0, tasks: 3, queued: 3 });
    expect(roots[2]).toMatchObject({ shards: 4, masters: 0, workers: 0, tasks: 1, queued: 1 });
    expect(Math.abs(roots[0]!.createdAt - Date.now())).toBeLessThan(60_000);
    const table = await runCli(['admin', 'roots', ...zk()]);
    expect(table.code, table.stderr).toBe(EXIT.ok);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ROOT\s+SHARDS\s+CREATED\s+MASTERS\s+WORKERS\s+TASKS\s+QUEUED\s+STATE$/);
    expect(lines[1]).toMatch(/^\/team-a\s+8\s+\d{4}-\d\d-\d\dT\S+\s+0\s+1\s+5\s+5\s+ok$/);
    expect(lines).toHaveLength(4);
    // The walk is of the whole ensemble: a typed --root is refused, DROVER_ROOT not taken.
    const withRoot = await runCli(['admin', 'roots', '--root', '/team-a', ...zk()]);
    expect(withRoot.code).toBe(EXIT.usage);
    expect(withRoot.stderr).toMatch(/^drover: admin roots walks the whole ensemble from \/: it takes no --root/);
    const envRoot = await runCli(['admin', 'roots', '--json', ...zk()], { env: { DROVER_ROOT: '/team-a' } });
    expect(envRoot.code, envRoot.stderr).toBe(EXIT.ok);
    expect((JSON.parse(envRoot.stdout) as RootInfo[]).map((r) => r.root)).toEqual(['/team-a', '/team-b', '/apps/x/team-c']);
  });

  it('a walk cut by depth or by its znode budget says so', async () => {
    // A non-drover chain deeper than the bound (depth 8 from /), with a root below it that is not found.
    const deep = '/deep/1/2/3/4/5/6/7/8';
    await ensureLayout(s, `${deep}/hidden`, 1);
    try {
      const { roots, stderr } = await rootsJson();
      expect(roots.map((r) => r.root)).toEqual(['/team-a', '/team-b', '/apps/x/team-c']);
      expect(stderr).toBe('drover: (search cut, roots may be missing: not walked below depth 8)\n');
      const table = await runCli(['admin', 'roots', ...zk()]);
      expect(table.code, table.stderr).toBe(EXIT.ok);
      expect(table.stdout.trim().split('\n').at(-1)).toBe('(search cut, roots may be missing: not walked below depth 8)');
      // Deep enough to reach it: found.
      expect((await findRoots(s, { maxDepth: 10 })).roots.map((r) => r.root)).toContain(`${deep}/hidden`);
    } finally {
      await destroyRoot(s, `${deep}/hidden`);
      for (let p = deep; p !== ''; p = p.slice(0, p.lastIndexOf('/'))) await s.remove(p);
    }
    // The budget: / (1) and its 4 children (not /zookeeper): 2 left; /apps (1 child) is listed,
    // /other (2) would not fit, so it and the rest are only checked for being roots (found);
    // then /apps/x (1 left: its 1 child listed), then /apps/x/team-c: 0 left, checked, a root.
    const cut = await findRoots(s, { maxVisited: 7 });
    expect(cut).toMatchObject({ visited: 7, stopped: true, cuts: { budget: true, depth: false, big: [] } });
    expect(cut.roots.map((r) => r.root)).toEqual(['/team-a', '/team-b', '/apps/x/team-c']);
    // Never more listed than the budget: at 5, / is visited and its 5 children would not fit.
    expect(await findRoots(s, { maxVisited: 5 })).toMatchObject({ visited: 1, stopped: true, roots: [] });
    expect((await findRoots(s)).stopped).toBe(false);
  });

  it('ZooKeeper unreachable: exit 3 within --connect-timeout', async () => {
    const t0 = Date.now();
    const r = await runCli(['admin', 'roots', '--zk', `127.0.0.1:${await freePort()}`, '--connect-timeout', '1s']);
    expect(r.code).toBe(EXIT.unavailable);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(8000);
  });
});

describe('drover admin destroy', () => {
  const destroy = (root: string, ...more: string[]) => runCli(['admin', 'destroy', '--root', root, ...more, ...zk()]);

  it('refuses without --yes, a live root, a non-root, / and /zookeeper; removes nothing', async () => {
    const before = await countTree('/');
    const noYes = await destroy('/team-a');
    expect(noYes.code).toBe(EXIT.usage);
    expect(noYes.stderr).toMatch(/^drover: admin destroy removes \/team-a and every znode under it .*add --yes/);
    // The confirmation is typed: a config file or DROVER_* variable does not give it.
    const file = join(tempDir('admin-'), 'c.json');
    writeFileSync(file, JSON.stringify({ admin: { destroy: { yes: true } } }));
    const fromFile = await destroy('/team-a', '--config', file);
    expect(fromFile.code).toBe(EXIT.usage);
    expect(fromFile.stderr).toMatch(/unknown key "admin\.destroy\.yes"/);
    const fromEnv = await runCli(['admin', 'destroy', '--root', '/team-a', ...zk()], { env: { DROVER_ADMIN_DESTROY_YES: 'true' } });
    expect(fromEnv.code).toBe(EXIT.usage);
    // What is destroyed is typed too: --root from DROVER_ROOT or the config file does not choose it.
    const rootFile = join(tempDir('admin-'), 'r.json');
    writeFileSync(rootFile, JSON.stringify({ root: '/team-a' }));
    for (const noRoot of [
      await runCli(['admin', 'destroy', '--yes', ...zk()], { env: { DROVER_ROOT: '/team-a' } }),
      await runCli(['admin', 'destroy', '--yes', '--config', rootFile, ...zk()]),
      await runCli(['admin', 'destroy', '--yes', ...zk()]),
    ]) {
      expect(noRoot.code, noRoot.stderr).toBe(EXIT.usage);
      expect(noRoot.stderr).toMatch(/^drover: admin destroy takes its root only from the command line: give --root R /);
    }
    const live = await destroy('/team-a', '--yes');
    expect(live.code).toBe(EXIT.error);
    expect(live.stderr).toBe('drover: /team-a is live: 0 masters and 1 worker alive; stop them first (nothing removed)\n');
    const liveB = await destroy('/team-b', '--yes');
    expect(liveB.stderr).toMatch(/1 master and 0 workers alive/);
    const fake = await destroy('/other/fake', '--yes');
    expect(fake.code).toBe(EXIT.error);
    expect(fake.stderr).toBe(`drover: /other/fake is not a drover root (no readable /other/fake/layout): nothing removed\n`);
    await expect(checkDestroyable(s, '/apps')).rejects.toThrow(DestroyRefusedError);
    const zoo = await destroy('/zookeeper', '--yes');
    expect(zoo.code).toBe(EXIT.error);
    expect(zoo.stderr).toBe("drover: refusing to destroy /zookeeper: ZooKeeper's own znodes\n");
    for (const path of ['/', '/zookeeper/quota']) await expect(checkDestroyable(s, path)).rejects.toThrow(/^refusing to destroy/);
    expect(await countTree('/')).toBe(before);
  });

  it('once its members are gone: removes the root and all under it, nothing beside it', async () => {
    await procs.killAll(); // kill -9: its ephemeral member node lingers until its session expires
    await waitFor(async () => (await readRoot(s, '/team-a'))?.workers === 0, { timeoutMs: 15_000, message: 'wa expired' });
    const size = await countTree('/team-a');
    const others = await Promise.all(['/team-b', '/apps', '/other'].map(countTree));
    const r = await destroy('/team-a', '--yes');
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toBe(`removed /team-a: ${size} znodes (5 tasks)\n`);
    expect(await s.exists('/team-a')).toBeNull();
    expect(await Promise.all(['/team-b', '/apps', '/other'].map(countTree))).toEqual(others);
    expect(await readRoot(s, '/team-b')).toMatchObject({ tasks: 3, queued: 3, masters: 1 });
    expect((await rootsJson()).roots.map((x) => x.root)).toEqual(['/team-b', '/apps/x/team-c']);
  });

  it('a root with more names a shard than REMOVE_BATCH: multis of ≤ REMOVE_BATCH removes, a shard listed at a time', async () => {
    const count = 1200; // 2 shards: ~600 records, queue entries each (over REMOVE_BATCH)
    await submit('/bulk', 2, count);
    const size = await countTree('/bulk');
    const before = { ...zkCounters.byKind };
    const t0 = Date.now();
    const r = await destroyRoot(s, '/bulk');
    const ms = Date.now() - t0;
    const sent = (k: string) => (zkCounters.byKind[k] ?? 0) - (before[k] ?? 0);
    expect(r.removed).toBe(size);
    expect(await s.exists('/bulk')).toBeNull();
    // tasks/ and queue/ each 2 shards of ~600 names: 2 or 3 multis a shard; plus the few refused ones over directories.
    expect(sent('multi')).toBeLessThanOrEqual(Math.ceil((2 * count) / REMOVE_BATCH) + 4 + 8);
    expect(sent('multi')).toBeGreaterThanOrEqual(Math.ceil((2 * count) / REMOVE_BATCH));
    testLog.info({ size, ms, multi: sent('multi'), getChildren: sent('getChildren'), delete: sent('delete') }, 'bulk destroy');
  }, 30_000);

  it('a root locked by its ACL: roots says it cannot read it, destroy names the permission; its identity does both', async () => {
    const ADMIN = ['--zk-auth', 'digest:admin:s3cret'];
    const env = { DROVER_ZK_AUTH: undefined, DROVER_ZK_AUTH_FILE: undefined } as unknown as NodeJS.ProcessEnv;
    const init = await runCli(['init', '--root', '/locked', ...ADMIN, '--acl', 'digest:admin:s3cret:cdrwa', ...zk()], { env });
    expect(init.code, init.stderr).toBe(EXIT.ok);
    const anon = await runCli(['admin', 'roots', '--json', ...zk()], { env });
    expect(anon.code, anon.stderr).toBe(EXIT.ok);
    expect((JSON.parse(anon.stdout) as RootInfo[]).map((r) => r.root)).not.toContain('/locked');
    expect(anon.stderr).toBe('drover: (1 not readable with this identity, their layout refused by ACL: /locked)\n');
    const admin = await runCli(['admin', 'roots', '--json', ...ADMIN, ...zk()], { env });
    expect((JSON.parse(admin.stdout) as RootInfo[]).map((r) => r.root)).toContain('/locked');
    expect(admin.stderr).toBe('');
    const refused = await destroy('/locked', '--yes');
    expect(refused.code).toBe(EXIT.error);
    expect(refused.stderr).toMatch(/^drover: permission denied: getChildren \/locked needs READ on \/locked .*\n$/);
    const ok = await runCli(['admin', 'destroy', '--root', '/locked', '--yes', ...ADMIN, ...zk()], { env });
    expect(ok.code, ok.stderr).toBe(EXIT.ok);
    expect(await s.exists('/locked')).toBeNull();
  });
});
