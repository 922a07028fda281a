// Namespaces: two clusters under two roots on one ZooKeeper, running at once, with a worker of
// the same id in each and tasks of the same ids in each, never see each other's tasks or
// members: each worker runs exactly its own root's tasks (with its own root's payloads), and
// `status` / `list` (real CLI processes) show only their own root's members and tasks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import type { TaskPage } from '../client/list.js';
import type { ClusterStatus } from '../client/status.js';
import { EXIT } from '../cli/exit-codes.js';
import { Master } from '../master/master.js';
import { ensureLayout } from '../shared/protocol/layout.js';
import { Worker } from '../worker/worker.js';
import { runCli } from './harness/cli-run.js';
import { SessionPool, TEST_SESSION_MS, TEST_SHARDS, testLog, uniqueRoot, zkConnect } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

interface Team {
  name: 'A' | 'B';
  root: string;
  client: DroverClient;
  master: Master;
  workers: Worker[];
  /** Task id → the worker (index) that completed it, and the result it returned. */
  ran: Map<string, Array<{ worker: number; result: unknown }>>;
  ids: string[];
}

const pool = new SessionPool();
const teams: Team[] = [];

async function startTeam(name: 'A' | 'B', workerIds: string[]): Promise<Team> {
  const root = uniqueRoot(`team-${name.toLowerCase()}`);
  const admin = await pool.open();
  await ensureLayout(admin, root, TEST_SHARDS);
  const client = await DroverClient.connect({ session: admin, root });
  const master = new Master({ session: await pool.open(), root, id: `m-${name}`, sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
  await master.start();
  const team: Team = { name, root, client, master, workers: [], ran: new Map(), ids: [] };
  for (const [i, id] of workerIds.entries()) {
    const w = new Worker({ session: await pool.open(), root, id, concurrency: 4, sessionTimeoutMs: TEST_SESSION_MS, gracePeriodMs: 1000, log: testLog });
    w.on('completed', (e) => team.ran.set(e.id, [...(team.ran.get(e.id) ?? []), { worker: i, result: e.result }]));
    team.workers.push(w);
    await w.start();
  }
  return team;
}

let g: (t: Team) => string[];
beforeAll(async () => {
  // The same worker id (w1) in both: member names must not meet across roots.
  teams.push(await startTeam('A', ['w1', 'a-w2']), await startTeam('B', ['w1']));
  await waitFor(() => teams.every((t) => t.master.isLeader), { message: 'both masters leading' });
  g = (t) => ['--zk', zkConnect(), '--root', t.root, '--session-timeout', '2s'];
}, 30_000);
afterAll(async () => {
  for (const t of teams) await Promise.all(t.workers.map((w) => w.stop().catch(() => undefined)));
  await Promise.all(teams.map((t) => t.master.stop().catch(() => undefined)));
  await pool.closeAll();
});

describe('two roots on one ZooKeeper', () => {
  it('run at once, each worker only its own root’s tasks (same ids, own payloads)', async () => {
    for (const t of teams) {
      // shared-*: the same ids in both roots; own-*: ids only this root has.
      t.ids = [...Array.from({ length: 6 }, (_, i) => `shared-${i}`), ...Array.from({ length: 4 }, (_, i) => `own-${t.name}-${i}`)];
    }
    // Submitted interleaved, so both clusters have work at the same time.
    await Promise.all(teams.map((t) => t.client.submitMany(t.ids.map((id) => ({ type: 'echo', id, payload: { team: t.name, id } })))));
    const done = await Promise.all(teams.map((t) => t.client.waitMany(t.ids)));
    for (const [k, t] of teams.entries()) {
      expect(done[k]!.map((r) => r.state)).toEqual(t.ids.map(() => 'succeeded'));
      for (const r of done[k]!) expect(r.result).toEqual({ team: t.name, id: r.id });
      // Exactly this root's ids ran on this root's workers, once each, with this root's payload.
      await waitFor(() => t.ran.size === t.ids.length, { message: `${t.name}: every completion seen` });
      expect([...t.ran.keys()].sort()).toEqual([...t.ids].sort());
      for (const [id, runs] of t.ran) {
        expect(runs).toHaveLength(1);
        expect(runs[0]!.result).toEqual({ team: t.name, id });
      }
    }
  });

  it('status and list (CLI) show only their own root’s members and tasks', async () => {
    for (const t of teams) {
      const s = await runCli(['status', '--json', ...g(t)]);
      expect(s.code, s.stderr).toBe(EXIT.ok);
      const st = JSON.parse(s.stdout) as ClusterStatus;
      expect(st.root).toBe(t.root);
      expect(st.masters.map((m) => m.id)).toEqual([`m-${t.name}`]);
      expect(st.workers.map((w) => w.id).sort()).toEqual(t.name === 'A' ? ['a-w2', 'w1'] : ['w1']);
      expect(st.finished).toBe(t.ids.length);
      const l = await runCli(['list', '--json', '--limit', '100', ...g(t)]);
      expect(l.code, l.stderr).toBe(EXIT.ok);
      const page = JSON.parse(l.stdout) as TaskPage;
      expect(page.total).toBe(t.ids.length);
      expect(page.tasks.map((x) => x.id).sort()).toEqual([...t.ids].sort());
      for (const x of page.tasks) expect(x.payload).toEqual({ team: t.name, id: x.id });
    }
  });
});
