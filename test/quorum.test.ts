// Quorum loss on a real 3-server ensemble: 2 of 3 servers down for longer than the session
// timeout, so every drover session gives itself up ("disconnected for a whole session
// timeout") while the servers, without a quorum, cannot expire anything. When the quorum is
// back those sessions would live one more session timeout, with their ephemerals: the old
// leader's election node would keep every newer candidate from leading.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { Master } from '../master/master.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import type { ZkSession } from '../shared/zk/session.js';
import { fourLetter } from '../shared/zk-server/launcher.js';
import { Worker } from '../worker/worker.js';
import { useEnsemble } from './harness/ensemble-suite.js';
import { testLog, waitForState } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';
import { ProcessPool } from './harness/processes.js';
import { EXIT } from '../cli/exit-codes.js';

// The largest timeout a tickTime-200 server grants: the gap the fix closes is this long.
const SESSION_MS = 4000;

const suite = useEnsemble(SESSION_MS);
const open = () => suite.open();

/** Kills two followers-or-leader (the quorum), waits `ms`, restarts them; resolves when serving again. */
async function loseQuorum(whileDown: () => Promise<void>): Promise<number> {
  const [a, b] = suite.ensemble.servers;
  await Promise.all([a!.kill9(), b!.kill9()]);
  await whileDown();
  await Promise.all([a!.restart({ timeoutMs: 60_000 }), b!.restart({ timeoutMs: 60_000 })]);
  return Date.now();
}

async function newClient(): Promise<{ s: ZkSession; client: DroverClient; root: string }> {
  const s = await open();
  const root = `/q-${randomBytes(4).toString('hex')}`;
  return { s, client: await DroverClient.connect({ session: s, root }), root };
}

/**
 * Makes `call` once the session has given itself up during a quorum loss (so it must wait
 * for a new session: the servers' restart takes longer than failing fast does); settles
 * after the quorum is back.
 */
async function whileSessionLost<T>(s: ZkSession, call: () => Promise<T>): Promise<T> {
  let pending!: Promise<T>;
  await loseQuorum(async () => {
    await waitForState(s, 'expired', 3 * SESSION_MS);
    pending = call();
    pending.catch(() => undefined);
  });
  return pending;
}

describe('quorum loss', () => {
  it('a session given up while the quorum was lost is closed once it is back: its ephemerals go at once', async () => {
    const s = await open();
    const root = `/q-${randomBytes(4).toString('hex')}`;
    await s.mkdirp(root);
    const node = await s.create(`${root}/e`, Buffer.from('x'), 'ephemeral');
    const restoredAt = await loseQuorum(() => waitForState(s, 'expired', 3 * SESSION_MS));
    await waitForState(s, 'connected', 3 * SESSION_MS);
    await waitFor(async () => (await s.exists(node)) === null, { timeoutMs: 3 * SESSION_MS, message: 'old ephemeral gone' });
    // Left to the server, it would last a session timeout after the quorum came back.
    expect(Date.now() - restoredAt).toBeLessThan(SESSION_MS - 1500);
  }, 60_000);

  it('client.submit rides out a quorum loss longer than the session timeout', async () => {
    const { s, client } = await newClient();
    const submitted = whileSessionLost(s, () => client.submit({ type: 'echo', id: 'during' }));
    await expect(submitted).resolves.toMatchObject({ id: 'during', created: true });
    expect(await client.get('during')).toMatchObject({ id: 'during', state: 'queued' });
  }, 60_000);

  it('client.cancel rides out a quorum loss longer than the session timeout, and says it cancelled', async () => {
    const { s, client } = await newClient();
    await client.submit({ type: 'echo', id: 'victim' });
    const cancelled = whileSessionLost(s, () => client.cancel('victim'));
    await expect(cancelled).resolves.toEqual({ cancelled: true, state: 'cancelled' });
    expect(await client.get('victim')).toMatchObject({ state: 'cancelled' });
  }, 60_000);

  it('CLI commands end in one line with exit 3 while the quorum is lost, also one that was already waiting', async () => {
    const { s: admin, client, root } = await newClient();
    await client.submit({ type: 'echo', id: 'known' });
    const procs = new ProcessPool();
    suite.onCleanup(() => procs.killAll());
    const g = ['--zk', suite.ensemble.connectString, '--root', root, '--session-timeout', '2000', '--connect-timeout', '1500'];
    // No worker: the task stays queued and the command waits on its watch.
    const waiting = procs.run(['submit', 'echo', '--id', 'awaited', '--wait', ...g], 30_000);
    // Waiting for real: the command's watch on the task is armed on a server (a record that
    // exists only says the submit went through, not that its reply reached the command).
    const taskPath = (await ensureLayout(admin, root)).task('awaited');
    await waitFor(
      async () => (await Promise.all(suite.ensemble.servers.map((srv) => fourLetter('127.0.0.1', srv.port, 'wchp', 1000)))).some((w) => w?.includes(taskPath)),
      { message: 'awaited submitted and watched' },
    );
    const oneLine = (r: { stderr: string }) => {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    };
    await loseQuorum(async () => {
      const lostAt = Date.now();
      const w = await waiting;
      expect(w.code).toBe(EXIT.unavailable);
      expect(w.stderr).toContain('ZooKeeper unavailable while waiting for task awaited, which stays submitted');
      oneLine(w);
      // Session timeout (2 s) + reconnect bound (1.5 s) + the time to notice, with slack.
      expect(Date.now() - lostAt).toBeLessThan(8000);
      for (const args of [['status'], ['get', 'known'], ['list'], ['cancel', 'known'], ['submit', 'echo']]) {
        const t0 = Date.now();
        const r = await procs.run([...args, ...g], 15_000);
        expect(r.code, `drover ${args.join(' ')}: ${r.stderr}`).toBe(EXIT.unavailable);
        expect(r.stderr).toContain('ZooKeeper unavailable');
        oneLine(r);
        expect(Date.now() - t0, `drover ${args.join(' ')}`).toBeLessThan(6000);
      }
    });
    // Nothing was lost: both tasks are still queued once the quorum is back.
    await waitForState(admin, 'connected', 3 * SESSION_MS);
    expect(await client.get('awaited')).toMatchObject({ state: 'queued' });
    expect(await client.get('known')).toMatchObject({ state: 'queued' });
  }, 90_000);

  it('masters lead and workers run tasks again without waiting out their old sessions', async () => {
    const admin = await open();
    const root = `/q-${randomBytes(4).toString('hex')}`;
    const paths = await ensureLayout(admin, root, 8);
    const client = await DroverClient.connect({ session: admin, root });
    const m1 = new Master({ session: await open(), root, id: 'm1', sessionTimeoutMs: SESSION_MS, log: testLog });
    const m2 = new Master({ session: await open(), root, id: 'm2', sessionTimeoutMs: SESSION_MS, log: testLog });
    const w = new Worker({ session: await open(), root, id: 'w1', sessionTimeoutMs: SESSION_MS, gracePeriodMs: 500, log: testLog });
    suite.onCleanup(() => m1.stop(), () => m2.stop(), () => w.stop());
    await m1.start();
    await waitFor(() => m1.isLeader, { message: 'm1 leads' });
    await m2.start();
    await w.start();
    const before = await client.submit({ type: 'echo', id: 'before', payload: 1 });
    await client.wait(before.id, { timeoutMs: 10_000 });

    const restoredAt = await loseQuorum(() => waitFor(() => !m1.isLeader, { timeoutMs: 3 * SESSION_MS, message: 'm1 steps down' }).then(() => undefined));
    // Nobody can lead until the old leader's election node is gone.
    await waitFor(() => m1.isLeader || m2.isLeader, { timeoutMs: 3 * SESSION_MS, message: 'a leader again' });
    const leadingAfter = Date.now() - restoredAt;
    const after = await client.submit({ type: 'echo', id: 'after', payload: 2 });
    expect((await client.wait(after.id, { timeoutMs: 3 * SESSION_MS })).state).toBe('succeeded');
    const doneAfter = Date.now() - restoredAt;
    expect(leadingAfter).toBeLessThan(SESSION_MS - 1000);
    expect(doneAfter).toBeLessThan(SESSION_MS);
    expect(paths.root).toBe(root);
  }, 90_000);
});
