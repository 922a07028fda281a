// `drover admin destroy` where it could do harm, and `admin roots` on what is not drover's,
// against a ZooKeeper of this file's own: a destroy killed (-9) mid-way leaves a tombstoned
// root that no member or client re-creates and that destroy finishes; a member registering
// between the check and the first multi makes it refuse, nothing removed; a root holding a
// nested root or foreign data is refused; roots survives foreign znodes of ~900 KB and says
// which directory it did not list.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findRoots, readRoot, type RootInfo } from '../client/admin-roots.js';
import { DestroyRefusedError, destroyRoot } from '../client/admin-destroy.js';
import { EXIT } from '../cli/exit-codes.js';
import { Master } from '../master/master.js';
import { ensureLayout, openLayout } from '../shared/protocol/layout.js';
import { requestDrain, updatePaused } from '../shared/protocol/control.js';
import { Paths } from '../shared/protocol/paths.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { ZkSession } from '../shared/zk/session.js';
import { runCli, startCli } from './harness/cli-run.js';
import { TEST_SESSION_MS, testLog } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';
import { countTree as countTreeOf, fillRoot } from './harness/root-tree.js';

let server: LocalZkServer | undefined;
let s: ZkSession;
let other: ZkSession;
const zk = () => ['--zk', server!.connectString, '--session-timeout', '2s'];

const countTree = (path: string) => countTreeOf(s, path);
const submit = (root: string, shards: number, count: number) => fillRoot(s, root, shards, count);

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
  s = await ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  other = await ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
}, 30_000);
afterAll(async () => {
  await other?.close();
  await s?.close();
  await server?.stop();
});

describe('admin destroy: interrupted, raced, nested', () => {
  it('killed -9 mid-way: a tombstoned root nobody re-creates, shown as destroying; destroy run again finishes it', async () => {
    await submit('/big', 2, 3000);
    // Records and queue entries: 2 shards each.
    const held = async () => (await Promise.all(['tasks/0', 'tasks/1', 'queue/0', 'queue/1'].map((d) => s.exists(`/big/${d}`)))).reduce((t, st) => t + (st?.numChildren ?? 0), 0);
    const full = await held();
    const p = startCli(['admin', 'destroy', '--root', '/big', '--yes', ...zk()]);
    try {
      // Killed once it has removed some (a batch), long before the 6 000 are gone.
      await waitFor(async () => (await s.exists('/big/destroying')) && (await held()) < full, { intervalMs: 5, message: 'destroy under way' });
    } finally {
      p.kill();
    }
    expect((await p.done).code).toBeNull(); // killed, not finished
    expect(await s.exists('/big/layout')).toBeNull();
    const left = await countTree('/big');
    expect(left).toBeGreaterThan(1000);
    const stillHeld = await held();
    // Seen as being destroyed, with what it still holds.
    const roots = await runCli(['admin', 'roots', '--json', ...zk()]);
    expect(roots.code, roots.stderr).toBe(EXIT.ok);
    const big = (JSON.parse(roots.stdout) as RootInfo[]).find((r) => r.root === '/big');
    expect(big).toMatchObject({ state: 'destroying', shards: 2, masters: 0, workers: 0 });
    const table = await runCli(['admin', 'roots', ...zk()]);
    expect(table.stdout).toMatch(/^\/big\s+2\s+\S+\s+0\s+0\s+[\d,]+\s+[\d,]+\s+destroying$/m);
    expect(table.stdout).toMatch(/^\(\/big is being destroyed: finish with drover admin destroy --root \/big --yes\)$/m);
    // Nobody uses it or writes a fresh layout meanwhile: a master, a submit, a read-only open.
    const refusal = 'being destroyed; finish with drover admin destroy --root /big --yes';
    const master = new Master({ session: other, root: '/big', id: 'm', sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    await expect(master.start()).rejects.toThrow(`/big is ${refusal}`);
    const sub = await runCli(['submit', 'echo', '--id', 'x', '--root', '/big', ...zk()]);
    expect(sub.code).toBe(EXIT.error);
    expect(sub.stderr).toBe(`drover: /big is ${refusal}\n`);
    const worker = await runCli(['worker', '--id', 'w', '--root', '/big', ...zk()]);
    expect(worker.code).toBe(EXIT.error);
    expect(worker.stderr).toMatch(/being destroyed; finish with drover admin destroy --root \/big --yes/);
    await expect(openLayout(s, '/big')).rejects.toThrow(refusal);
    expect(await s.exists('/big/layout')).toBeNull();
    expect(await held()).toBe(stillHeld);
    // Run again: finished; every znode left counted but the tombstone.
    const again = await runCli(['admin', 'destroy', '--root', '/big', '--yes', ...zk()]);
    expect(again.code, again.stderr).toBe(EXIT.ok);
    expect(again.stdout).toMatch(new RegExp(`^removed /big: ${(left - 1).toLocaleString('en-US')} znodes \\([\\d,]+ tasks, finishing an interrupted destroy\\)\\n$`));
    expect(await s.exists('/big')).toBeNull();
  }, 30_000);

  it('a member registering between the check and the first multi: refused with the count, nothing removed', async () => {
    await submit('/race', 2, 1);
    const size = await countTree('/race');
    const member = '/race/workers/w1~1';
    const refused = destroyRoot(s, '/race', { beforeTombstone: async () => void (await other.create(member, undefined, 'ephemeral')) });
    await expect(refused).rejects.toThrow(DestroyRefusedError);
    await expect(refused).rejects.toThrow('/race is live: a member registered while it was checked (0 masters and 1 worker alive); stop them first (nothing removed)');
    expect(await countTree('/race')).toBe(size + 1);
    expect(await s.exists('/race/destroying')).toBeNull();
    expect(await readRoot(s, '/race')).toMatchObject({ workers: 1, tasks: 1 });
    await other.remove(member);
    expect((await destroyRoot(s, '/race')).removed).toBe(size);
  });

  it('a root holding a nested root or foreign data is refused, naming it; nothing removed', async () => {
    await submit('/drover', 2, 1);
    await submit('/drover/team-a', 2, 2);
    await s.mkdirp('/drover/notes/keep', Buffer.from('mine'));
    const before = await countTree('/drover');
    const r = await runCli(['admin', 'destroy', '--root', '/drover', '--yes', ...zk()]);
    expect(r.code).toBe(EXIT.error);
    expect(r.stderr).toBe('drover: refusing to destroy /drover: it holds /drover/notes, /drover/team-a, not part of a drover root (a nested root or foreign data); move or remove it first (nothing removed)\n');
    // Many top-level znodes: refused from the stat, unlisted.
    await s.multi(Array.from({ length: 12 }, (_, i) => ({ op: 'create' as const, path: `/drover/team-a/x${i}` })));
    await expect(destroyRoot(s, '/drover/team-a')).rejects.toThrow('refusing to destroy /drover/team-a: it holds 19 znodes at its top level, more than a drover root\'s own 12');
    expect(await countTree('/drover')).toBe(before + 12);
    expect((await findRoots(s)).roots.map((x) => x.root)).toEqual(['/drover']); // a root is not walked into
  });
});

describe("a root's own entries", () => {
  it('Paths names every top-level entry destroy may remove, and nothing else', () => {
    const names = ['layout', 'election', 'workers', 'assign', 'tasks', 'queue', 'done', 'leader-status', 'control', 'dag', 'schedules', 'destroying'];
    expect(new Paths('/a/b').topLevelNames()).toEqual(names);
    expect(new Paths('/').topLevelNames()).toEqual(names);
  });
});

describe('a locked root', () => {
  it("destroy's tombstone carries the root's ACL (init --acl), not an open one", async () => {
    const init = await runCli(['init', ...zk(), '--root', '/locked', '--acl', 'digest:admin:s3cret:cdrwa'], { env: { DROVER_ZK_AUTH: 'digest:admin:s3cret' } });
    expect(init.code, init.stderr).toBe(EXIT.ok);
    const admin = await ZkSession.open({ connectString: server!.connectString, auth: [{ scheme: 'digest', credentials: 'admin:s3cret' }], sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    try {
      const rootAcl = (await admin.getACL('/locked')).acl;
      expect(rootAcl).toEqual([expect.objectContaining({ scheme: 'digest', perms: 31 })]);
      let tombAcl: unknown;
      await destroyRoot(admin, '/locked', { afterTombstone: async () => void (tombAcl = (await admin.getACL('/locked/destroying')).acl) });
      expect(tombAcl).toEqual(rootAcl);
      expect(await s.exists('/locked')).toBeNull();
    } finally {
      await admin.close();
    }
  });
});

describe('a long-lived client after a destroy', () => {
  it('pause and drain are refused in one line and make no control/ under the gone root', async () => {
    const paths = await ensureLayout(s, '/short-lived', 2);
    await requestDrain(s, paths, 'w1'); // control/ made on first use while the root lives
    await destroyRoot(s, '/short-lived');
    const gone = /^no drover cluster under \/short-lived \(its root is gone\)$/;
    await expect(updatePaused(s, paths, (p) => ({ ...p, all: { since: 1 } }))).rejects.toThrow(gone);
    await expect(requestDrain(s, paths, 'w2')).rejects.toThrow(gone);
    expect(await s.exists('/short-lived')).toBeNull();
  });
});

describe('admin roots on foreign znodes', () => {
  it('30 znodes of ~900 KB (one more a `layout`) are never read; a directory over 2 000 children is named as not listed', async () => {
    const blob = Buffer.alloc(900 * 1024, 'x');
    // 30 of them: the old walk read them all in one multiRead (~27 MB: refused, exit 3).
    await Promise.all(Array.from({ length: 30 }, (_, i) => s.mkdirp(`/blobs/b${i}`, blob)));
    await s.mkdirp('/blobs/fake/layout', blob);
    await s.mkdirp('/wide');
    for (let i = 0; i < 2001; i += 500) await s.multi(Array.from({ length: Math.min(500, 2001 - i) }, (_, k) => ({ op: 'create' as const, path: `/wide/n${i + k}` })));
    const r = await runCli(['admin', 'roots', '--json', ...zk()]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect((JSON.parse(r.stdout) as RootInfo[]).map((x) => x.root)).toEqual(['/drover']);
    expect(r.stderr).toBe('drover: (search cut, roots may be missing: not listed, over 2,000 children: /wide (2,001))\n');
  }, 20_000);

  it('a directory not listed for its size leaves the budget to its later siblings: a root below one is found', async () => {
    await s.mkdirp('/zz/a-wide');
    for (let i = 0; i < 2001; i += 500) await s.multi(Array.from({ length: Math.min(500, 2001 - i) }, (_, k) => ({ op: 'create' as const, path: `/zz/a-wide/n${i + k}` })));
    await ensureLayout(s, '/zz/b/team', 2);
    const r = await findRoots(s, { from: '/zz' });
    expect(r.roots.map((x) => x.root)).toEqual(['/zz/b/team']);
    expect(r.cuts).toEqual({ budget: false, depth: false, big: [{ path: '/zz/a-wide', children: 2001 }], unlistable: [] });
  });
});
