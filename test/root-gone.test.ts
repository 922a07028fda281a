// A `drover master` whose root is destroyed under it: destroy's first multi (tombstone made,
// layout, election and workers removed) lands while the master runs, after its candidate went
// (the one case destroy's live-member check cannot see: a member between reading the layout and
// registering). The master must end with openLayout's one line and exit 1, not warn every
// 200 ms about a missing election directory.
import { afterAll, describe, expect, it } from 'vitest';
import { ZkSession } from '../shared/zk/session.js';
import { startCli, type RunningCli } from './harness/cli-run.js';
import { freshLayout, testLog, TEST_SESSION_MS, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const running: RunningCli[] = [];
let session: ZkSession | undefined;

afterAll(async () => {
  for (const p of running) p.kill();
  await session?.close();
});

describe('a root destroyed under a running master', () => {
  it("the master exits 1 with the \"being destroyed\" line; a worker started then is refused in one line", async () => {
    session = await ZkSession.open({ connectString: zkConnect(), sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    const paths = await freshLayout(session);
    const root = paths.root;
    const m = startCli(['master', '--zk', zkConnect(), '--root', root, '--id', 'gone-m', '--session-timeout', '2s', '--log-format', 'json']);
    running.push(m);
    const candidate = await waitFor(async () => (await session!.getChildren(paths.election)).children[0], { timeoutMs: 15_000, message: 'the master to stand' });
    // The candidate removed by hand (as if the master had not registered yet), then destroy's first multi.
    const tomb = JSON.stringify({ shards: paths.shards, createdAt: Date.now(), since: Date.now() });
    await session.multi([
      { op: 'remove', path: `${paths.election}/${candidate}` },
      { op: 'create', path: paths.destroying, data: Buffer.from(tomb) },
      { op: 'remove', path: paths.layout },
      { op: 'remove', path: paths.election },
      { op: 'remove', path: paths.workers },
    ]);
    const r = await Promise.race([m.done, new Promise<null>((res) => setTimeout(() => res(null), 20_000))]);
    expect(r, `the master did not exit; stderr: ${m.stderr().slice(-2000)}`).not.toBeNull();
    expect(r!.code).toBe(1);
    expect(r!.stderr).toContain(`drover: ${root} is being destroyed; finish with drover admin destroy --root ${root} --yes`);
    // No retry loop before it gave up.
    expect(r!.stdout.split('\n').filter((l) => l.includes('election check failed')).length).toBeLessThanOrEqual(1);

    // A worker started on that root now: refused in one line, not a log line saying it again.
    const w = startCli(['worker', '--zk', zkConnect(), '--root', root, '--id', 'gone-w', '--session-timeout', '2s', '--log-format', 'json']);
    running.push(w);
    const wr = await Promise.race([w.done, new Promise<null>((res) => setTimeout(() => res(null), 20_000))]);
    expect(wr, `the worker did not exit; stderr: ${w.stderr().slice(-2000)}`).not.toBeNull();
    expect(wr!.code).toBe(1);
    const said = `${root} is being destroyed; finish with drover admin destroy --root ${root} --yes`;
    expect(wr!.stderr.trim()).toBe(`drover: ${said}`);
    expect(wr!.stdout).not.toContain(said);
  });
});
