// The CLI's credentials as options: never quoted in an error (an --acl whose password holds a
// colon, a config file's zk-auth that is no string), and which source wins: a --zk-auth-file flag
// over DROVER_ZK_AUTH (compose's env_file sets it for every process), DROVER_ZK_AUTH over the
// file's zk-auth-file; both on the command line is a usage error. A ZooKeeper of this file's own.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { makeTempDir } from '../shared/zk-server/local-server.js';
import { runCli } from './harness/cli-run.js';
import { uniqueRoot } from './harness/zk.js';

const ADMIN = 'digest:admin:s3cret';
const VIEWER = 'digest:viewer:pw';
const env = { DROVER_ZK_AUTH: undefined, DROVER_ZK_AUTH_FILE: undefined } as unknown as NodeJS.ProcessEnv;
let server: LocalZkServer;
let g: string[];
let dir: string;

beforeAll(async () => {
  server = await startLocalServer({ tickTimeMs: 200 });
  dir = makeTempDir('auth-opts');
  g = ['--zk', server.connectString, '--root', uniqueRoot('opts')];
  const init = await runCli(['init', ...g, '--zk-auth', ADMIN, '--acl', `${ADMIN}:cdrwa`, '--acl', `${VIEWER}:r`], { env });
  expect(init.code, init.stderr).toBe(0);
});
afterAll(async () => {
  await server?.stop();
});

describe('credentials in errors', () => {
  it('an --acl whose last part is a piece of the password: not quoted', async () => {
    const r = await runCli(['init', ...g, '--zk-auth', ADMIN, '--acl', 'digest:alice:hunter:2secret'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--acl: permissions \(the last part\) must be letters of cdrwa/);
    expect(r.stderr).not.toMatch(/hunter|2secret/);
  });

  it("a config file's zk-auth that is no string: not echoed", async () => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ 'zk-auth': { user: 'admin', password: 'hunter2' } }));
    const r = await runCli(['status', ...g, '--config', config], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"zk-auth" must be a string \(its value not shown: a credential\)/);
    expect(r.stderr).not.toContain('hunter2');
  });
});

describe('which identity', () => {
  it('--zk-auth-file on the command line wins over DROVER_ZK_AUTH; both flags: a usage error', async () => {
    const file = join(dir, 'viewer');
    writeFileSync(file, `${VIEWER}\n`);
    // DROVER_ZK_AUTH (admin) would submit; the flag's viewer may not: refused as the viewer.
    const sub = await runCli(['submit', 'echo', ...g, '--zk-auth-file', file], { env: { ...env, DROVER_ZK_AUTH: ADMIN } });
    expect(sub.code).toBe(1);
    expect(sub.stderr).toMatch(/permission denied: create \S+ needs CREATE on \S+ \(this client: digest:viewer; check --zk-auth\)/);
    const st = await runCli(['status', ...g, `--zk-auth-file=${file}`], { env: { ...env, DROVER_ZK_AUTH: ADMIN } });
    expect(st.code, st.stderr).toBe(0);
    // The environment's file over the config file's zk-auth.
    const config = join(dir, 'admin.json');
    writeFileSync(config, JSON.stringify({ 'zk-auth': ADMIN }));
    const sub2 = await runCli(['submit', 'echo', ...g, '--config', config], { env: { ...env, DROVER_ZK_AUTH_FILE: file } });
    expect(sub2.code).toBe(1);
    expect(sub2.stderr).toMatch(/this client: digest:viewer/);
    const both = await runCli(['status', ...g, '--zk-auth-file', file, '--zk-auth', ADMIN], { env });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--zk-auth and --zk-auth-file: give one of them/);
    expect(both.stderr).not.toContain('s3cret');
  });
});
