// The NO_AUTH back-off of retry loops (shared/zk/auth-backoff.ts): its pauses and its log
// lines, the rule that a try gated on it runs when its timer fires (even a timer Node fires a
// little early), and for real: elections refused their candidacy join once the ACL is fixed.
// On a ZooKeeper of this file's own (its locked nodes stay out of the suite's shared server).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ZkSession, type ZkAuth } from '../shared/zk/session.js';
import { ConnectionLossError, NoAuthError } from '../shared/zk/errors.js';
import { NoAuthBackoff } from '../shared/zk/auth-backoff.js';
import { permissionDenied } from '../shared/zk/auth-errors.js';
import { digestOf, OPEN_ACL, type Acl } from '../shared/zk/acl.js';
import { LeaderElection } from '../shared/zk/election.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { TEST_SESSION_MS, testLog, uniqueRoot } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const ADMIN: ZkAuth = { scheme: 'digest', credentials: 'admin:s3cret' };
const VIEWER: ZkAuth = { scheme: 'digest', credentials: 'viewer:pw' };
const adminId = `admin:${digestOf('admin', 's3cret')}`;
const viewerId = `viewer:${digestOf('viewer', 'pw')}`;

let server: LocalZkServer;
const sessions: ZkSession[] = [];
async function open(auth: ZkAuth[]): Promise<ZkSession> {
  const s = await ZkSession.open({ connectString: server.connectString, auth, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
});
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.close()));
  await server?.stop();
});

describe('the NO_AUTH back-off', () => {
  it('a loop refused mid-run backs off (1 s doubling to 60 s) and logs each distinct refusal once', () => {
    const logged: string[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => void logged.push(l) });
    const b = new NoAuthBackoff(log);
    const refused = new NoAuthError('NO_AUTH', 'permission denied: create /r/x needs CREATE on /r (this client: anonymous; check --zk-auth)');
    expect(b.delayAfter(new ConnectionLossError('CONNECTION_LOSS', 'lost'), 250)).toBe(250);
    const delays = Array.from({ length: 9 }, () => b.delayAfter(refused, 250));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(logged.filter((l) => l.includes('needs CREATE')).length).toBe(1);
    // A try went through: the next refusal (the ACL broken again, say) starts from 1 s and is logged again.
    b.succeeded();
    expect(b.delayAfter(refused, 250)).toBe(1000);
    expect(logged.filter((l) => l.includes('needs CREATE')).length).toBe(2);
  });

  it('a try gated on the back-off runs when its timer fires, even a timer that fires before its pause is over', async () => {
    // Node may fire a timer a little before its deadline as Date.now() sees it: here at once.
    const early = (fn: () => void) => void setImmediate(fn);
    const b = new NoAuthBackoff(testLog, early);
    const refused = new NoAuthError('NO_AUTH', 'permission denied: create /r/x needs CREATE on /r (this client: anonymous; check --zk-auth)');
    const tries: boolean[] = [];
    // The callers' rule: a try kicked while waiting is skipped (the back-off's timer kicks the next one).
    const gated = () => {
      if (b.waiting) return;
      tries.push(true);
    };
    let fired!: () => void;
    const firedNow = new Promise<void>((r) => (fired = r));
    expect(b.schedule(refused, 250, () => (gated(), fired()))).toBe(1000);
    expect(b.waiting).toBe(true);
    gated(); // an event's kick during the pause
    expect(tries).toEqual([]);
    await firedNow;
    expect(tries).toEqual([true]);
    expect(b.waiting).toBe(false);
    // A later refusal supersedes a pending one: the older timer's kick finds it still waiting.
    const order: string[] = [];
    const slow: Array<() => void> = [];
    const b2 = new NoAuthBackoff(testLog, (fn) => void slow.push(fn));
    b2.schedule(refused, 250, () => order.push(`first:${b2.waiting}`));
    b2.schedule(refused, 250, () => order.push(`second:${b2.waiting}`));
    slow[0]!();
    slow[1]!();
    expect(order).toEqual(['first:true', 'second:false']);
    // Any other error keeps the caller's pause and gates nothing.
    expect(b2.schedule(new ConnectionLossError('CONNECTION_LOSS', 'lost'), 250, () => undefined)).toBe(250);
    expect(b2.waiting).toBe(false);
  });

  it('one line per kind of refusal (permission, kind of node, identity), not per task; the kinds remembered are bounded', () => {
    const logged: string[] = [];
    const b = new NoAuthBackoff(pino({ level: 'error' }, { write: (l: string) => void logged.push(l) }));
    const refusal = (op: string, path: string, who = 'digest:viewer') => permissionDenied(new NoAuthError('NO_AUTH', 'x', { op, path }), who, '/drover');
    for (let i = 0; i < 50; i++) b.delayAfter(refusal('create', `/drover/assignments/w1/t${i}`), 250);
    for (let i = 0; i < 50; i++) b.delayAfter(refusal('setData', `/drover/tasks/${(i % 16).toString(16)}/t${i}`), 250);
    expect(logged.length).toBe(2);
    expect(refusal('create', '/drover/assignments/w1/t1').refusal).toBe('CREATE on /drover/assignments for digest:viewer');
    b.delayAfter(refusal('create', '/drover/assignments/w1/t1', 'anonymous'), 250);
    expect(logged.length).toBe(3);
    // A root of its own (/drover2 is no prefix-kin of /drover): another kind.
    b.delayAfter(permissionDenied(new NoAuthError('NO_AUTH', 'x', { op: 'create', path: '/drover2/assignments/w1/t1' }), 'digest:viewer', '/drover2'), 250);
    expect(logged.length).toBe(4);
    for (let i = 0; i < 200; i++) b.delayAfter(refusal('create', `/drover/x${i}/t`), 250);
    expect((b as unknown as { seen: Set<string> }).seen.size).toBeLessThanOrEqual(64);
  });

  it('elections refused their candidacy (NO_AUTH) back off, and every one joins once the ACL is fixed', async () => {
    const admin = await open([ADMIN]);
    const viewer = await open([VIEWER]);
    const root = uniqueRoot('elect');
    await admin.create(root, undefined, 'persistent', OPEN_ACL);
    const readOnly: Acl = [
      { perms: 31, scheme: 'digest', id: adminId },
      { perms: 1, scheme: 'digest', id: viewerId },
    ];
    // Many elections (a directory each): Node fires about 1 timer in 20 a little before its
    // deadline as Date.now() sees it; 80 back-off timers here, so a gate on the clock (the old
    // rule) left some election never joining (4 runs of 4 failed with it).
    const dirs = Array.from({ length: 40 }, (_, i) => `${root}/e${i}`);
    for (const d of dirs) await admin.create(d, undefined, 'persistent', readOnly);
    const elections = dirs.map((d, i) => new LeaderElection(viewer, d, `m${i}`, testLog));
    try {
      // Started a few ms apart: their timers fall at unrelated phases of the millisecond clock.
      for (const e of elections) {
        e.start();
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 2));
      }
      // Two refusals each (the second after the 1 s timer fired): the 2 s pause runs now.
      const refusals = (e: LeaderElection) => (e as unknown as { refusals: { refusals: number } }).refusals.refusals;
      await waitFor(() => elections.every((e) => refusals(e) >= 2), { timeoutMs: 8000, message: 'two refusals each' });
      expect(elections.map((e) => e.role)).toEqual(dirs.map(() => 'candidate'));
      for (const d of dirs) await admin.setACL(d, [readOnly[0]!, { perms: 31, scheme: 'digest', id: viewerId }]);
      // The back-off's own timer tries again (nothing else kicks an election that never joined).
      await waitFor(() => elections.every((e) => e.isLeader), { timeoutMs: 10_000, message: 'all lead' }).catch((err: Error) => {
        throw new Error(`${err.message}; roles: ${elections.map((e) => e.role).join(' ')}`);
      });
    } finally {
      await Promise.all(elections.map((e) => e.stop()));
    }
  });

  it("a create refused for want of ADMIN on its root (the root's ACL unreadable) is one kind of refusal, not one per node", async () => {
    const admin = await open([ADMIN]);
    const root = uniqueRoot('masked');
    await admin.create(root, undefined, 'persistent', [
      { perms: 31, scheme: 'digest', id: adminId },
      { perms: 15, scheme: 'digest', id: viewerId },
    ]);
    await ensureLayout(admin, root, 4);
    const viewer = await open([VIEWER]);
    await ensureLayout(viewer, root, 4);
    const refused = [`${root}/tasks/0/a`, `${root}/x`].map((p) => {
      try {
        viewer.aclFor(p);
      } catch (err) {
        return err as NoAuthError;
      }
      throw new Error(`${p}: not refused`);
    });
    expect(refused[0]!.message).toMatch(/needs the ACL of .*readable only with ADMIN/);
    expect(refused.map((e) => e.refusal)).toEqual([`ADMIN on ${root} (its ACL) for digest:viewer`, `ADMIN on ${root} (its ACL) for digest:viewer`]);
  });
});
