// Helpers of the worker tests (worker*.test.ts, group-commit, burst-reads): waits on a
// record's state, a handler the test releases by hand, a burst assigned in one multi as the
// leader's assignBatch sends it, a wait for a session to go quiet at its server, and the
// worker test files' common set-up (useWorkerSuite).
import type { Paths } from '../../shared/protocol/paths.js';
import { assignOps, queueEntryOf, submitOps, type VersionedRecord } from '../../shared/protocol/task-ops.js';
import { newTaskRecord, type SubmitInput, type TaskRecord } from '../../shared/protocol/task-record.js';
import type { TaskState } from '../../shared/protocol/task-state.js';
import type { ZkSession } from '../../shared/zk/session.js';
import type { TaskContext } from '../../worker/handlers.js';
import { lastXid } from './server-requests.js';
import { waitFor } from './wait-for.js';
import type { Worker, WorkerOptions } from '../../worker/worker.js';
import { readRecord, submitAndAssignTo, useWorkerFixture } from './worker-fixture.js';

export function waitState(s: ZkSession, p: Paths, id: string, state: TaskState, timeoutMs?: number): Promise<TaskRecord> {
  return waitFor(
    async () => {
      const { record } = await readRecord(s, p, id);
      return record.state === state ? record : null;
    },
    { message: `task ${id} in state ${state}`, ...(timeoutMs ? { timeoutMs } : {}) },
  );
}

/** A handler the test releases by hand; it ignores its signal unless told otherwise. */
export function gated() {
  let release!: (v: unknown) => void;
  const gate = new Promise((r) => (release = r));
  const seen: { started: boolean; abortReason?: string } = { started: false };
  const handler = async (_payload: unknown, ctx: TaskContext) => {
    seen.started = true;
    ctx.signal.addEventListener('abort', () => (seen.abortReason = (ctx.signal.reason as Error).message));
    return gate;
  };
  return { handler, release, seen };
}

/** Submits `inputs` and assigns them all to `member` in ONE multi (attempt 1, epoch 1), as assignBatch does. */
export async function assignBurst(s: ZkSession, p: Paths, member: string, inputs: SubmitInput[]): Promise<VersionedRecord[]> {
  const recs = inputs.map((i) => newTaskRecord(i));
  await s.mkdirp(p.assignDir(member));
  for (const r of recs) await s.multi(submitOps(p, r));
  const now = Date.now();
  await s.multi(recs.flatMap((r) => assignOps(p, { record: r, version: 0 }, queueEntryOf(p, r), member, 1, now, 5000).ops));
  return Promise.all(recs.map((r) => readRecord(s, p, r.id)));
}

/**
 * Resolves with the session's last xid once its server has seen no new request from it for
 * `quietMs` (it has sent everything the last change caused).
 */
export async function quietXid(s: ZkSession, quietMs = 400): Promise<number> {
  let last = await lastXid(s);
  let since = Date.now();
  return waitFor(
    async () => {
      const x = await lastXid(s);
      if (x !== last) [last, since] = [x, Date.now()];
      return Date.now() - since >= quietMs ? { x } : null;
    },
    { intervalMs: 100, message: `session 0x${s.sessionId} quiet for ${quietMs} ms` },
  ).then((r) => r.x);
}

/**
 * The worker test files' common set-up: a fixture (a session, a layout, workers stopped after
 * each test) and the calls every file makes against it, bound to the current test's session.
 */
export function useWorkerSuite(defaults: Partial<WorkerOptions> = { gracePeriodMs: 5000 }) {
  const fx = useWorkerFixture(defaults);
  return {
    fx,
    startWorker: (opts: Partial<WorkerOptions> = {}) => fx.startWorker(opts),
    /** Client submit + leader assign, each one multi, as the real ones do. */
    submitAndAssign: async (w: Worker, input: SubmitInput): Promise<string> => {
      const [t] = await submitAndAssignTo(fx.session, fx.paths, w.memberName!, [input]);
      return t!.record.id;
    },
    read: (id: string) => readRecord(fx.session, fx.paths, id),
    waitState: (id: string, state: TaskState) => waitState(fx.session, fx.paths, id, state),
  };
}
