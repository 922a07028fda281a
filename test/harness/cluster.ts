// An in-process drover cluster on the suite's real ZooKeeper: one session per component,
// as separate processes would have. Everything it starts is stopped by `stop()`.
import { DroverClient } from '../../client/drover-client.js';
import { Master, type MasterOptions } from '../../master/master.js';
import type { Paths } from '../../shared/protocol/paths.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { Worker, type WorkerOptions } from '../../worker/worker.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog } from './zk.js';
import { waitFor } from './wait-for.js';

export interface TestCluster {
  paths: Paths;
  admin: ZkSession;
  client: DroverClient;
  masters: Master[];
  workers: Worker[];
  addWorker(opts: Partial<WorkerOptions> & { id: string }): Promise<Worker>;
  addMaster(opts?: Partial<MasterOptions>): Promise<Master>;
  leader(): Master | undefined;
  stop(): Promise<void>;
}

export async function startCluster(
  opts: { masters?: number; workers?: Array<Partial<WorkerOptions> & { id: string }>; master?: Partial<MasterOptions> } = {},
): Promise<TestCluster> {
  const pool = new SessionPool();
  const admin = await pool.open();
  const paths = await freshLayout(admin);
  const client = await DroverClient.connect({ session: admin, root: paths.root });
  const masters: Master[] = [];
  const workers: Worker[] = [];
  const c: TestCluster = {
    paths,
    admin,
    client,
    masters,
    workers,
    async addMaster(mo = {}) {
      const m = new Master({
        session: await pool.open(),
        root: paths.root,
        id: `m${masters.length + 1}`,
        sessionTimeoutMs: TEST_SESSION_MS,
        timeoutGraceMs: 1000,
        log: testLog,
        ...opts.master,
        ...mo,
      });
      masters.push(m);
      await m.start();
      return m;
    },
    async addWorker(wo) {
      const w = new Worker({ session: await pool.open(), root: paths.root, sessionTimeoutMs: TEST_SESSION_MS, gracePeriodMs: 1000, log: testLog, ...wo });
      workers.push(w);
      await w.start();
      return w;
    },
    leader() {
      return masters.find((m) => m.isLeader);
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      await Promise.all(masters.map((m) => m.stop().catch(() => undefined)));
      await pool.closeAll();
    },
  };
  for (let i = 0; i < (opts.masters ?? 1); i++) await c.addMaster();
  if (masters.length) await waitFor(() => c.leader(), { message: 'a leading master' });
  for (const w of opts.workers ?? []) await c.addWorker(w);
  return c;
}
