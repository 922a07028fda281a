// An authenticated cluster as real processes (2 masters, 2 workers, DROVER_ZK_AUTH) on a root
// locked by `drover init --acl`, on a ZooKeeper of this file's own: tasks run end to end,
// through a leader kill -9; the ACL on znodes made deep in the layout by those processes (a
// queue entry, a record, an assignment, a member) is the root's; an anonymous worker exits
// with the one line, no retry loop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { ZkSession } from '../shared/zk/session.js';
import { readLeader } from '../shared/zk/election.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { ProcessPool, type DroverProcess } from './harness/processes.js';
import { runCli } from './harness/cli-run.js';
import { TEST_SESSION_MS, testLog, uniqueRoot } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const ADMIN = 'digest:admin:s3cret';
let server: LocalZkServer;
const procs = new ProcessPool();
let admin: ZkSession;
let client: DroverClient;
let root: string;
const env = { DROVER_ZK_AUTH: ADMIN };
const common = () => ['--zk', server.connectString, '--root', root, '--session-timeout', String(TEST_SESSION_MS)];

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
  root = uniqueRoot('authc');
  const init = await runCli(['init', '--zk', server.connectString, '--root', root, '--acl', 'digest:admin:s3cret:cdrwa', '--acl', 'digest:viewer:pw:r'], { env });
  expect(init.code, init.stderr).toBe(0);
  admin = await ZkSession.open({ connectString: server.connectString, auth: [{ scheme: 'digest', credentials: 'admin:s3cret' }], sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  client = await DroverClient.connect({ session: admin, root, createLayout: false });
});
afterAll(async () => {
  await procs.killAll();
  await client?.close();
  await admin?.close();
  await server?.stop();
});

describe('an authenticated cluster', () => {
  it('runs tasks end to end through a leader kill -9; znodes deep in the layout carry the root ACL', async () => {
    const masters: DroverProcess[] = [];
    for (const id of ['m1', 'm2']) {
      const m = procs.spawn(id, ['master', '--id', id, ...common()], env);
      await m.waitForLine((l) => l.msg === 'master following' || l.msg === 'elected leader', 15_000, `${id} started`);
      masters.push(m);
    }
    for (const id of ['w1', 'w2']) {
      const w = procs.spawn(id, ['worker', '--id', id, '--concurrency', '2', '--grace', '1000', ...common()], env);
      await w.waitForLine((l) => l.msg === 'worker alive', 15_000, `${id} alive`);
    }
    const rootAcl = (await admin.getACL(root)).acl;
    expect(rootAcl.map((e) => e.id.split(':')[0])).toEqual(['admin', 'viewer']);

    // A member node, made by a worker process.
    const members = (await admin.getChildren(client.paths.workers)).children;
    expect(members.length).toBe(2);
    expect((await admin.getACL(`${client.paths.workers}/${members[0]}`)).acl).toEqual(rootAcl);

    // A delayed task: its record and queue entry stay while we read their ACLs.
    const delayed = await client.submit({ type: 'echo', payload: { d: 1 }, delayMs: 60_000 });
    const shardDir = client.paths.queueShard(client.paths.shard(delayed.id));
    const entries = (await admin.getChildren(shardDir)).children.filter((e) => e.includes(delayed.id));
    expect(entries.length).toBe(1);
    expect((await admin.getACL(`${shardDir}/${entries[0]}`)).acl).toEqual(rootAcl);
    expect((await admin.getACL(client.paths.task(delayed.id))).acl).toEqual(rootAcl);

    // A long task: its assignment, made by the leader process.
    const first = await client.submit({ type: 'echo', payload: { n: 0 } });
    await client.wait(first.id, { timeoutMs: 15_000 });
    const assigned = await client.submit({ type: 'sleep', payload: { ms: 3000 } });
    const assignment = await waitFor(
      async () => {
        for (const m of (await admin.getChildren(client.paths.assign)).children) {
          const kids = (await admin.getChildren(client.paths.assignDir(m))).children.filter((k) => k.startsWith(assigned.id));
          if (kids.length) return `${client.paths.assignDir(m)}/${kids[0]}`;
        }
        return undefined;
      },
      { timeoutMs: 10_000, message: 'an assignment' },
    );
    expect((await admin.getACL(assignment)).acl).toEqual(rootAcl);

    // Tasks across a leader kill -9: every one succeeds.
    const before = await Promise.all(Array.from({ length: 10 }, (_, i) => client.submit({ type: 'echo', payload: { i } })));
    const leader = await waitFor(async () => readLeader(admin, client.paths.election), { message: 'a leader' });
    masters.find((m) => m.pid === leader.pid)!.kill9();
    const after = await Promise.all(Array.from({ length: 10 }, (_, i) => client.submit({ type: 'echo', payload: { j: i } })));
    for (const t of [...before, ...after, assigned]) {
      const r = await client.wait(t.id, { timeoutMs: 30_000 });
      expect(r.state, t.id).toBe('succeeded');
    }
    const survivor = masters.find((m) => m.pid !== leader.pid)!;
    await survivor.waitForLine((l) => l.msg === 'elected leader', 15_000);
  });

  it('an anonymous worker against that root exits with the one line, no retry loop', async () => {
    const t0 = Date.now();
    const w = procs.spawn('anon', ['worker', '--id', 'anon', ...common()], { DROVER_ZK_AUTH: undefined } as unknown as NodeJS.ProcessEnv);
    const code = await w.waitExit(15_000);
    expect(code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const said = [...w.text, ...w.lines.map((l) => l.msg)].filter((l) => /permission denied/.test(l));
    expect(said.length, [...w.text, ...w.lines.map((l) => JSON.stringify(l))].join('\n')).toBeGreaterThanOrEqual(1);
    expect(said[0]).toMatch(/^drover: permission denied: \w+ \S+ needs (READ|CREATE) on \S+ \(this client: anonymous; check --zk-auth\)$/);
  });

  it('an anonymous master and a read-only (viewer) worker cannot start either: exit 1, the one line', async () => {
    const m = procs.spawn('anon-m', ['master', '--id', 'anon-m', ...common()], { DROVER_ZK_AUTH: undefined } as unknown as NodeJS.ProcessEnv);
    const w = procs.spawn('viewer-w', ['worker', '--id', 'viewer-w', ...common()], { DROVER_ZK_AUTH: 'digest:viewer:pw' });
    expect(await m.waitExit(15_000)).toBe(1);
    expect(await w.waitExit(15_000)).toBe(1);
    expect(m.text.join('\n')).toMatch(/^drover: permission denied: getData \S+ needs READ on \S+ \(this client: anonymous; check --zk-auth\)$/m);
    expect(w.text.join('\n')).toMatch(/^drover: permission denied: create \S+ needs CREATE on \S+ \(this client: digest:viewer; check --zk-auth\)$/m);
  });
});
