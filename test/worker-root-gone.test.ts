// A `drover worker` whose session expires while its root is destroyed: with its member node gone
// with the session, destroy's live-member check passes and its first multi (tombstone made,
// layout, election and workers removed) lands. The worker's re-registration on the new session
// then meets NO_NODE: it must end with openLayout's one line and exit 1, as a starting worker
// does, not retry every 2 s forever.
import { afterAll, describe, expect, it } from 'vitest';
import { ZkSession } from '../shared/zk/session.js';
import { startCli, type CliResult, type RunningCli } from './harness/cli-run.js';
import { destroyRoot } from '../client/admin-destroy.js';
import { TcpProxy } from './harness/tcp-proxy.js';
import { freshLayout, testLog, TEST_SESSION_MS, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

let worker: RunningCli | undefined;
let proxy: TcpProxy | undefined;
let session: ZkSession | undefined;

afterAll(async () => {
  worker?.kill();
  await proxy?.stop();
  await session?.close();
});

describe('a root destroyed while a worker is expired', () => {
  it('the worker exits 1 with the "being destroyed" line once its new session finds the tombstone', async () => {
    session = await ZkSession.open({ connectString: zkConnect(), sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    const paths = await freshLayout(session);
    const root = paths.root;
    const [host, port] = zkConnect().split(',')[0]!.split(':');
    proxy = await TcpProxy.start(host!, Number(port));
    worker = startCli(['worker', '--zk', proxy.connectString, '--root', root, '--id', 'expired-w', '--session-timeout', '1200ms', '--log-format', 'json']);
    // Alive, not just registered: an expiry while it starts is a failed start, another path.
    await waitFor(() => worker!.stdout().includes('"msg":"worker alive"'), { timeoutMs: 15_000, message: 'the worker to be alive' });
    const member = (await session.getChildren(paths.workers)).children[0]!;
    // A real expiry: the server drops the session it no longer hears from.
    proxy.cut('blackhole');
    await waitFor(async () => (await session!.exists(paths.member(member))) === null, { timeoutMs: 15_000, message: 'the member node to go with its session' });
    // destroy's own first multi (tombstone made; layout, election and workers removed); the
    // worker's new session meets it before the rest of the root goes.
    let r: CliResult | null = null;
    await destroyRoot(session, root, {
      afterTombstone: async () => {
        proxy!.heal();
        r = await Promise.race([worker!.done, new Promise<null>((res) => setTimeout(() => res(null), 10_000).unref())]);
      },
    });
    expect(r, `the worker did not exit; stdout: ${worker.stdout().slice(-2000)}`).not.toBeNull();
    const ended = r! as CliResult;
    expect(ended.code, `stderr: ${ended.stderr}\nstdout: ${ended.stdout.slice(-3000)}`).toBe(1);
    const said = `${root} is being destroyed; finish with drover admin destroy --root ${root} --yes`;
    expect(ended.stderr.trim()).toBe(`drover: ${said}`);
    // Said once, by the CLI; no retry loop before it gave up.
    expect(ended.stdout).not.toContain(said);
    expect(ended.stdout).not.toContain('re-registration failed');
  });
});
