// A leader whose root's ACL is changed under it (`drover init --update` by another identity,
// leaving it read-only) is refused every assignment: it logs the refusal once and backs off
// (1 s, 2 s, ...), not a warn every 250 ms; once the ACL gives it CREATE again, the next try
// places the task. A master process on a ZooKeeper of this file's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { ZkSession } from '../shared/zk/session.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { ProcessPool, type LogLine } from './harness/processes.js';
import { runCli } from './harness/cli-run.js';
import { TEST_SESSION_MS, testLog, uniqueRoot } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const ADMIN = 'digest:admin:s3cret';
const OPS = 'digest:ops:pw';
let server: LocalZkServer;
const procs = new ProcessPool();
let ops: ZkSession;
let client: DroverClient;
let root: string;
const common = () => ['--zk', server.connectString, '--root', root, '--session-timeout', String(TEST_SESSION_MS)];
const setAcl = async (as: string, acl: string[]) => {
  const r = await runCli(['init', '--zk', server.connectString, '--root', root, '--update', '--force', ...acl.flatMap((a) => ['--acl', a])], { env: { DROVER_ZK_AUTH: as } });
  expect(r.code, r.stderr).toBe(0);
};

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
  root = uniqueRoot('authb');
  const init = await runCli(['init', '--zk', server.connectString, '--root', root, '--acl', `${ADMIN}:cdrwa`, '--acl', `${OPS}:cdrwa`], { env: { DROVER_ZK_AUTH: ADMIN } });
  expect(init.code, init.stderr).toBe(0);
  ops = await ZkSession.open({ connectString: server.connectString, auth: [{ scheme: 'digest', credentials: 'ops:pw' }], sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  client = await DroverClient.connect({ session: ops, root, createLayout: false });
});
afterAll(async () => {
  await procs.killAll();
  await client?.close();
  await ops?.close();
  await server?.stop();
});

const WARN = 40;
const refusedAt = (l: LogLine) => l.level >= WARN && /permission denied/.test(`${l.msg} ${String(l.err ?? '')}`);

describe('a leader refused by ZooKeeper (NO_AUTH)', () => {
  it('logs the refusal once and backs off 1 s doubling; a good round after the ACL is fixed places the task', async () => {
    const m = procs.spawn('m1', ['master', '--id', 'm1', '--log-level', 'debug', ...common()], { DROVER_ZK_AUTH: ADMIN });
    await m.waitForLine((l) => l.msg === 'elected leader', 15_000, 'leader');
    // The leader's identity may only read from now on; ops (the worker, the client) may do all.
    await setAcl(OPS, [`${OPS}:cdrwa`, `${ADMIN}:r`]);
    const w = procs.spawn('w1', ['worker', '--id', 'w1', ...common()], { DROVER_ZK_AUTH: OPS });
    await w.waitForLine((l) => l.msg === 'worker alive', 15_000, 'worker alive');
    const task = await client.submit({ type: 'echo', payload: { n: 1 } });

    const tries = () => m.lines.filter((l) => l.msg === 'leader round refused; backing off');
    // (Or more than one loud line: a leader that spins says so at once.)
    const said = () => m.lines.filter((l) => l.level >= WARN || l.msg === 'leader round refused; backing off').map((l) => JSON.stringify(l)).join('\n');
    await waitFor(() => tries().length >= 3 || m.lines.filter(refusedAt).length > 3, { timeoutMs: 15_000, message: 'three refused rounds' }).catch((err: Error) => {
      throw new Error(`${err.message}; the leader said:\n${said()}`);
    });
    const loud = m.lines.filter(refusedAt);
    expect(loud.length, loud.map((l) => JSON.stringify(l)).join('\n')).toBe(1);
    const t = tries();
    // 1 s then 2 s between tries (not 250 ms), and one line at warn or above for all of them.
    expect(t.map((l) => l.retryInMs), said()).toEqual([1000, 2000, 4000]);
    expect(t[2]!.time - t[0]!.time).toBeGreaterThanOrEqual(2900);
    expect(m.lines.filter(refusedAt).length).toBe(1);
    expect(String(loud[0]!.msg)).toMatch(/^permission denied: (create|remove|setData) \S+ (\(op \d+ of a multi\) )?needs (CREATE|DELETE|WRITE) on \S+ \(this client: digest:admin; check --zk-auth\)$/);
    expect(m.running).toBe(true);
    expect((await client.get(task.id))?.state).toBe('queued');

    // Fixed: the next try (the back-off's, within 4 s) places it, and it runs.
    await setAcl(OPS, [`${OPS}:cdrwa`, `${ADMIN}:cdrwa`]);
    const r = await client.wait(task.id, { timeoutMs: 15_000 }).catch((err: Error) => {
      throw new Error(`${err.message}; the leader said:\n${said()}`);
    });
    expect(r.state).toBe('succeeded');
    // A try while --update was half way may meet another refusal (another node): logged once too.
    const end = m.lines.filter(refusedAt);
    expect(new Set(end.map((l) => l.msg)).size, said()).toBe(end.length);
    expect(end.length, said()).toBeLessThanOrEqual(3);
    expect(m.lines.filter((l) => l.msg === 'leader round failed; retrying')).toEqual([]);
  });
});
