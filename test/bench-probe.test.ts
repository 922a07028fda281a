// The bench's observer (scripts/bench/zk-probe.ts) and the server sizes
// (shared/zk-server/sizing.ts) against a real ZooKeeper: the bench's figures rest on the
// observer seeing every change below a watched path, in order, for one request.
import fs from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ZkProbe, type ProbeEvent } from '../scripts/bench/zk-probe.js';
import { findZkCli } from '../shared/zk-server/find-install.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/local-server.js';
import { DEFAULT_JVM_ARGS } from '../shared/zk-server/local-server.js';
import { jvmArgsFor, resolveSizing } from '../shared/zk-server/sizing.js';
import { zkCliLs } from '../scripts/bench/zkcli.js';
import { SessionPool, uniqueRoot, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const probes: ZkProbe[] = [];
afterEach(async () => {
  await Promise.all(probes.splice(0).map((p) => p.close()));
  await pool.closeAll();
});

describe('bench observer', () => {
  it('sees every create, change and delete below a path, in order, for one request', async () => {
    const s = await pool.open();
    const root = uniqueRoot('probe');
    const probe = await ZkProbe.open(zkConnect());
    probes.push(probe);
    const seen: ProbeEvent[] = [];
    probe.on((e) => seen.push(e));
    const before = probe.packetsSent;
    await probe.watchTree(root); // armed before the path exists
    expect(probe.packetsSent - before).toBe(1);

    await s.mkdirp(`${root}/a`);
    for (let i = 0; i < 50; i++) await s.create(`${root}/a/n${i}`, Buffer.from('x'));
    await s.setData(`${root}/a/n7`, Buffer.from('y'));
    await s.remove(`${root}/a/n3`);
    const expected = [
      `created ${root}`,
      `created ${root}/a`,
      ...Array.from({ length: 50 }, (_, i) => `created ${root}/a/n${i}`),
      `changed ${root}/a/n7`,
      `deleted ${root}/a/n3`,
    ];
    await waitFor(() => seen.length >= expected.length, { timeoutMs: 10_000, message: 'events' });
    expect(seen.map((e) => `${e.type} ${e.path}`)).toEqual(expected);
    // Timestamps never go back.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.t).toBeGreaterThanOrEqual(seen[i - 1]!.t);
    // The notifications cost no request: nothing sent since the watch but pings.
    const listing = await probe.children(`${root}/a`);
    expect(listing.names.length).toBe(49);
    // Reply: 4 (length) + 16 (header) + 4 (count) + per name 4 + its bytes.
    expect(listing.replyBytes).toBe(24 + listing.names.reduce((n, x) => n + 4 + Buffer.byteLength(x), 0));
  });

  it('a lost connection fails the probe loudly instead of missing events', async () => {
    const server = await startLocalServer({ tickTimeMs: 200 });
    try {
      const probe = await ZkProbe.open(server.connectString);
      probes.push(probe);
      await probe.watchTree('/x');
      await server.kill9();
      await waitFor(
        () => {
          try {
            probe.assertAlive();
            return false;
          } catch {
            return true;
          }
        },
        { timeoutMs: 10_000, message: 'probe failed' },
      );
      expect(() => probe.assertAlive()).toThrow(/connection closed/);
    } finally {
      await server.stop();
    }
  });
});

describe('server sizes', () => {
  let server: LocalZkServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('the test size is the flags tests always had; others are sized and checked', () => {
    expect(DEFAULT_JVM_ARGS).toEqual(jvmArgsFor('test'));
    expect(DEFAULT_JVM_ARGS.slice(0, 3)).toEqual(['-Xms32m', '-Xmx256m', '-XX:+UseSerialGC']);
    expect(jvmArgsFor('million')).toEqual(expect.arrayContaining(['-Xmx4096m', '-XX:+UseG1GC']));
    expect(() => resolveSizing({ heapMb: 8, gc: 'serial' })).toThrow(/heapMb/);
    expect(() => resolveSizing('huge' as 'test')).toThrow();
  });

  it('a server started with a size runs with that heap, and zkCli.sh lists its directories', async () => {
    server = await startLocalServer({ tickTimeMs: 200, sizing: 'bench' });
    const cmdline = fs.readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).toContain('-Xmx1024m');
    expect(cmdline).not.toContain('-Xmx256m');
    expect(findZkCli()).not.toBeNull();
    const s = await pool.open({ connectString: server.connectString });
    await s.mkdirp('/d');
    for (let i = 0; i < 5; i++) await s.create(`/d/c${i}`, Buffer.alloc(0));
    expect(await zkCliLs(server.connectString, '/d')).toEqual({ count: 5 });
    expect(await zkCliLs(server.connectString, '/missing')).toHaveProperty('error');
  });
});
