// Attempts lost to infrastructure do not use up the user's attempts. A 3-server ensemble
// loses its quorum for longer than the session timeout while `maxAttempts: 1` tasks are
// mid-run: the worker gives its session up and aborts them, the leader (once back) reclaims
// what the gone incarnation held. Each loss is counted in `lost`, not against maxAttempts,
// so every task runs again and succeeds.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { Master } from '../master/master.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { attemptsUsed, isTerminal } from '../shared/protocol/task-state.js';
import type { TaskContext } from '../worker/handlers.js';
import { Worker } from '../worker/worker.js';
import { useEnsemble } from './harness/ensemble-suite.js';
import { testLog } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const SESSION_MS = 4000;
/** Longer than the whole outage (a session timeout down, then the servers' restart). */
const HANDLER_MS = 9000;

const suite = useEnsemble(SESSION_MS);
const open = () => suite.open();

describe('attempts lost to infrastructure', () => {
  it('a quorum loss longer than the session timeout fails no maxAttempts: 1 task mid-run: every one succeeds', async () => {
    const admin = await open();
    const root = `/a-${randomBytes(4).toString('hex')}`;
    await ensureLayout(admin, root, 8);
    const client = await DroverClient.connect({ session: admin, root });
    const runs: Array<{ taskId: string; attempt: number; aborted?: string }> = [];
    const long = (p: { n: number }, ctx: TaskContext) =>
      new Promise((resolve, reject) => {
        const run: (typeof runs)[number] = { taskId: ctx.taskId, attempt: ctx.attempt };
        runs.push(run);
        const t = setTimeout(() => resolve({ n: p.n }), HANDLER_MS);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(t);
          run.aborted = (ctx.signal.reason as Error).message;
          reject(ctx.signal.reason);
        });
      });
    const master = new Master({ session: await open(), root, id: 'm1', sessionTimeoutMs: SESSION_MS, log: testLog });
    const worker = new Worker({ session: await open(), root, id: 'w1', concurrency: 4, handlers: { long }, gracePeriodMs: 500, log: testLog });
    suite.onCleanup(() => master.stop(), () => worker.stop());
    await master.start();
    await waitFor(() => master.isLeader, { message: 'm1 leads' });
    await worker.start();

    const ids = ['t1', 't2', 't3'];
    await client.submitMany(ids.map((id, n) => ({ type: 'long', id, payload: { n }, maxAttempts: 1 })));
    await waitFor(() => runs.length === ids.length, { message: 'every task running' });

    // The quorum goes (2 of 3 servers) for longer than the session timeout: the worker gives
    // its session up and aborts every attempt; then the servers come back.
    const [a, b] = suite.ensemble.servers;
    await Promise.all([a!.kill9(), b!.kill9()]);
    await waitFor(() => runs.filter((r) => r.aborted).length === ids.length, { timeoutMs: 3 * SESSION_MS, message: 'every attempt aborted by the lost session' });
    expect(runs.map((r) => r.aborted)).toEqual(ids.map(() => 'session lost'));
    await Promise.all([a!.restart({ timeoutMs: 60_000 }), b!.restart({ timeoutMs: 60_000 })]);

    const done = await waitFor(
      async () => {
        const recs = (await Promise.all(ids.map((id) => client.get(id)))) as TaskRecord[];
        return recs.every((r) => r && isTerminal(r.state)) ? recs : null;
      },
      { timeoutMs: 4 * SESSION_MS + 2 * HANDLER_MS, intervalMs: 200, message: 'every task finished' },
    );
    for (const r of done) {
      expect(r, `task ${r.id}: ${JSON.stringify(r.error)}`).toMatchObject({ state: 'succeeded', result: { n: ids.indexOf(r.id) } });
      // It ran again; the lost attempt is counted apart and used up none of the one allowed.
      expect(r.attempt).toBeGreaterThanOrEqual(2);
      expect(r.lost).toBe(r.attempt - 1);
      expect(attemptsUsed(r)).toBe(1);
    }
  }, 120_000);
});
