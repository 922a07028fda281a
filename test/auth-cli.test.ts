// The CLI on a root locked by `drover init --acl` (a ZooKeeper of this file's own): anonymous
// and read-only clients refused in one line naming the permission, exit 1, at once; a viewer
// runs status and get; --zk-auth / --zk-auth-file / DROVER_ZK_AUTH; init's refusals and
// --update on an existing root.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZkSession } from '../shared/zk/session.js';
import { digestOf } from '../shared/zk/acl.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { runCli } from './harness/cli-run.js';
import { makeTempDir } from '../shared/zk-server/local-server.js';
import { testLog, uniqueRoot } from './harness/zk.js';

const ADMIN = 'digest:admin:s3cret';
const VIEWER = 'digest:viewer:pw';
let server: LocalZkServer;
let root: string;
let g: string[];
let dir: string;
// Harness variables must not give the CLI an identity of their own.
const env = { DROVER_ZK_AUTH: undefined, DROVER_ZK_AUTH_FILE: undefined } as unknown as NodeJS.ProcessEnv;

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
  dir = makeTempDir('auth-cli');
  root = uniqueRoot('locked');
  g = ['--zk', server.connectString, '--root', root];
  const init = await runCli(['init', ...g, '--zk-auth', ADMIN, '--acl', 'digest:admin:s3cret:cdrwa', '--acl', 'digest:viewer:pw:r'], { env });
  expect(init.stderr).toBe('');
  expect(init.stdout).toBe(`${root}: created; ACL digest:admin:cdrwa, digest:viewer:r\n`);
  expect(init.code).toBe(0);
  const sub = await runCli(['submit', 'echo', '--id', 'secret-1', '--payload', '{"card":"4111"}', ...g], { env: { ...env, DROVER_ZK_AUTH: ADMIN } });
  expect(sub.code, sub.stderr).toBe(0);
});
afterAll(async () => {
  await server?.stop();
});

describe('a locked root', () => {
  it('anonymous: submit and get refused in one line naming the permission, exit 1, at once', async () => {
    const t0 = Date.now();
    const sub = await runCli(['submit', 'echo', '--id', 'anon-1', ...g], { env });
    expect(sub.code).toBe(1);
    expect(sub.stderr).toBe(`drover: permission denied: getData ${root}/layout needs READ on ${root}/layout (this client: anonymous; check --zk-auth)\n`);
    const get = await runCli(['get', 'secret-1', ...g], { env });
    expect(get.code).toBe(1);
    expect(get.stderr).toMatch(/^drover: permission denied: getData \S+ needs READ on \S+ \(this client: anonymous; check --zk-auth\)\n$/);
    expect(get.stdout).not.toContain('4111');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('a read-only identity runs status and get; its submit is refused with the one line', async () => {
    const st = await runCli(['status', ...g, '--zk-auth', VIEWER], { env });
    expect(st.code, st.stderr).toBe(0);
    const get = await runCli(['get', 'secret-1', ...g, '--json'], { env: { ...env, DROVER_ZK_AUTH: VIEWER } });
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout).payload).toEqual({ card: '4111' });
    const sub = await runCli(['submit', 'echo', '--id', 'viewer-1', ...g, '--zk-auth', VIEWER], { env });
    expect(sub.code).toBe(1);
    expect(sub.stderr).toMatch(/^drover: permission denied: create \S+ needs CREATE on \S+ \(this client: digest:viewer; check --zk-auth\)\n$/);
  });

  it('a read-only identity cannot run a master or a worker: each exits 1 at start with the one line', async () => {
    // A master refused its candidacy would otherwise stay up (and healthy to /healthz), never able to lead.
    const master = await runCli(['master', ...g, '--id', 'ro-m', '--zk-auth', VIEWER, '--log-format', 'json'], { env, timeoutMs: 15_000 });
    expect(master.code, master.stderr).toBe(1);
    expect(master.stderr).toMatch(/^drover: permission denied: create \S+\/election\/\S+ needs CREATE on \S+\/election \(this client: digest:viewer; check --zk-auth\)\n$/);
    const worker = await runCli(['worker', ...g, '--id', 'ro-w', '--zk-auth', VIEWER, '--log-format', 'json'], { env, timeoutMs: 15_000 });
    expect(worker.code, worker.stderr).toBe(1);
    expect(worker.stderr).toMatch(/^drover: permission denied: \S+ \S+ needs \S+ on \S+ \(this client: digest:viewer; check --zk-auth\)\n$/);
  });

  it('--zk-auth-file (out of ps) and the config file (zk-auth) give the identity; a bad form is a usage error that never repeats the secret', async () => {
    const file = join(dir, 'auth');
    writeFileSync(file, `${ADMIN}\n`);
    const get = await runCli(['get', 'secret-1', ...g, '--zk-auth-file', file], { env });
    expect(get.code, get.stderr).toBe(0);
    const config = join(dir, 'drover.config.json');
    writeFileSync(config, JSON.stringify({ 'zk-auth': ADMIN }));
    const fromFile = await runCli(['get', 'secret-1', ...g, '--config', config], { env });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    const bad = await runCli(['status', ...g, '--zk-auth', 'digest:onlyuser-no-secret'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--zk-auth: digest credentials are USER:PASSWORD/);
    expect(bad.stderr).not.toContain('onlyuser-no-secret');
  });

  it('a scheme the server lacks: AUTH_FAILED in one line, exit 1, no reconnect loop', async () => {
    const t0 = Date.now();
    const r = await runCli(['status', ...g, '--zk-auth', 'nosuch:whatever'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^drover: ZooKeeper refused the credentials of nosuch \(AUTH_FAILED/);
    expect(r.stderr).not.toContain('whatever');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('drover init', () => {
  it('refuses an ACL that locks out the identity running it, and bad specs (exit 2)', async () => {
    const r2 = uniqueRoot('lockout');
    const lock = await runCli(['init', '--zk', server.connectString, '--root', r2, '--zk-auth', ADMIN, '--acl', 'digest:viewer:pw:r'], { env });
    expect(lock.code).toBe(2);
    expect(lock.stderr).toMatch(/digest:admin \(running init\) would not keep cdrwa/);
    const bad = await runCli(['init', '--zk', server.connectString, '--root', r2, '--acl', 'digest:x:pw:rq'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/permissions \(the last part\) must be letters of cdrwa/);
    const nine = await runCli(['init', '--zk', server.connectString, '--root', r2, ...Array.from({ length: 9 }, (_, i) => ['--acl', `digest:u${i}:p:cdrwa`]).flat()], { env });
    expect(nine.code).toBe(2);
    // A bare --acl (its value forgotten) is refused, not taken for the default (an open root here).
    const bare = await runCli(['init', '--root', r2, '--acl', '--zk', server.connectString], { env });
    expect([bare.code, bare.stderr]).toEqual([2, 'drover: --acl: give an entry (digest:USER:PASSWORD:PERMS or world:anyone:PERMS) (see drover --help)\n']);
    const s = await ZkSession.open({ connectString: server.connectString, log: testLog });
    try {
      expect(await s.exists(r2)).toBeNull();
      // An existing znode that is no drover root: another --root, not --update (which refuses it too).
      const foreign = uniqueRoot('foreign');
      await s.mkdirp(`${foreign}/data`);
      const f = await runCli(['init', '--zk', server.connectString, '--root', foreign], { env });
      expect([f.code, f.stderr]).toEqual([1, `drover: ${foreign} exists and holds no drover layout (no ${foreign}/layout): choose another --root\n`]);
    } finally {
      await s.close();
    }
  });

  it('an existing root: refused without --update; with it, the ACL is set on every znode (counted)', async () => {
    const again = await runCli(['init', ...g, '--zk-auth', ADMIN, '--acl', 'digest:admin:s3cret:cdrwa'], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists; --update sets the ACL/);
    const up = await runCli(['init', ...g, '--zk-auth', ADMIN, '--acl', 'digest:admin:s3cret:cdrwa', '--acl', 'world:anyone:r', '--update', '--json'], { env });
    expect(up.code, up.stderr).toBe(0);
    const out = JSON.parse(up.stdout) as { updated: number; acl: string[] };
    expect(out.acl).toEqual(['digest:admin:cdrwa', 'world:anyone:r']);
    const s = await ZkSession.open({ connectString: server.connectString, auth: [{ scheme: 'digest', credentials: 'admin:s3cret' }], log: testLog });
    try {
      // Every znode under the root now carries the new ACL: count them all by a walk of our own.
      let n = 0;
      const want = [
        { perms: 31, scheme: 'digest', id: `admin:${digestOf('admin', 's3cret')}` },
        { perms: 1, scheme: 'world', id: 'anyone' },
      ];
      const walk = async (p: string): Promise<void> => {
        n += 1;
        expect((await s.getACL(p)).acl, p).toEqual(want);
        for (const c of (await s.getChildren(p)).children) await walk(`${p}/${c}`);
      };
      await walk(root);
      expect(out.updated).toBe(n);
    } finally {
      await s.close();
    }
    // world:anyone:r now: an anonymous reader gets the payload, and still cannot submit.
    const get = await runCli(['get', 'secret-1', ...g], { env });
    expect(get.code, get.stderr).toBe(0);
    const sub = await runCli(['submit', 'echo', ...g], { env });
    expect(sub.code).toBe(1);
    expect(sub.stderr).toMatch(/^drover: permission denied: create /);
  });
});
