// The worker tests' stage: a fresh root and admin session per test, workers started on it
// and stopped after, and the test playing client and leader with the protocol's own multi
// builders (one submit multi and one assign multi a task, as the real ones send them).
import { afterEach, beforeEach } from 'vitest';
import type { Paths } from '../../shared/protocol/paths.js';
import { assignOps, queueEntryOf, submitOps, type VersionedRecord } from '../../shared/protocol/task-ops.js';
import { newTaskRecord, type SizeLimits, type SubmitInput } from '../../shared/protocol/task-record.js';
import { readTask } from '../../shared/protocol/task-store.js';
import type { ZkSession, ZkSessionOptions } from '../../shared/zk/session.js';
import { Worker, type WorkerOptions } from '../../worker/worker.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './zk.js';

/** Reads a record that must be there. */
export async function readRecord(s: ZkSession, p: Paths, id: string): Promise<VersionedRecord> {
  const r = await readTask(s, p, id);
  if (r.kind !== 'ok') throw new Error(`task ${id} is ${r.kind}`);
  return { record: r.record, version: r.version };
}

/** Submits each task and assigns it (attempt 1, epoch 1) to `member`; returns the records as stored. */
export async function submitAndAssignTo(s: ZkSession, p: Paths, member: string, inputs: SubmitInput[], limits?: SizeLimits): Promise<VersionedRecord[]> {
  const recs = inputs.map((i) => newTaskRecord(i, limits));
  await s.mkdirp(p.assignDir(member));
  for (const r of recs) await s.multi(submitOps(p, r));
  for (const r of recs) await s.multi(assignOps(p, { record: r, version: 0 }, queueEntryOf(p, r), member, 1, Date.now(), 5000).ops);
  return Promise.all(recs.map((r) => readRecord(s, p, r.id)));
}

export interface WorkerFixture {
  /** This test's admin session and root (set by beforeEach). */
  readonly session: ZkSession;
  readonly paths: Paths;
  /** A worker on this test's root ('w1', the test session timeout, `defaults`, then `opts`). */
  startWorker(opts?: Partial<WorkerOptions>): Promise<Worker>;
  /** Another session on the suite's server, closed after the test. */
  openSession(opts?: Partial<ZkSessionOptions>): Promise<ZkSession>;
}

export function useWorkerFixture(defaults: Partial<WorkerOptions> = {}): WorkerFixture {
  const pool = new SessionPool();
  const workers: Worker[] = [];
  let session: ZkSession | undefined;
  let paths: Paths | undefined;
  beforeEach(async () => {
    session = await pool.open();
    paths = await freshLayout(session);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => (w.state === 'initialized' ? undefined : w.stop().catch(() => undefined))));
    await pool.closeAll();
  });
  const fx: WorkerFixture = {
    get session() {
      if (!session) throw new Error('no test session yet (use it inside a test)');
      return session;
    },
    get paths() {
      if (!paths) throw new Error('no test root yet (use it inside a test)');
      return paths;
    },
    async startWorker(opts = {}) {
      const w = new Worker({ connectString: zkConnect(), root: fx.paths.root, id: 'w1', sessionTimeoutMs: TEST_SESSION_MS, log: testLog, ...defaults, ...opts });
      workers.push(w);
      await w.start();
      return w;
    },
    openSession: (opts) => pool.open(opts),
  };
  return fx;
}
