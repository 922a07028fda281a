// Every multi is sized, whatever goes into it: a cancel's reason, the unknown-type message of a
// worker with many handlers, a failure's message, a burst of starts through a chroot. Each
// would otherwise be a request over jute.maxbuffer (the server drops the connection, and the
// sender, taking that for "outcome unknown", tries again and again) or a record holding an
// unbounded message.
import { beforeEach, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { MAX_ERROR_MESSAGE_CHARS } from '../shared/protocol/messages.js';
import type { Paths } from '../shared/protocol/paths.js';
import { assignOps, fittedFinishOps, opsBytes, queueEntryOf, submitOps, MAX_REQUEST_BYTES, type VersionedRecord } from '../shared/protocol/task-ops.js';
import { newTaskRecord, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { startBatch } from '../shared/protocol/transitions.js';
import type { SessionState, ZkSession } from '../shared/zk/session.js';
import { Worker } from '../worker/worker.js';
import { TEST_SESSION_MS, freshLayout, testLog, uniqueRoot, zkConnect } from './harness/zk.js';
import { readRecord, submitAndAssignTo, useWorkerFixture } from './harness/worker-fixture.js';
import { waitFor } from './harness/wait-for.js';

const fx = useWorkerFixture();
let session: ZkSession;
let paths: Paths;
let states: SessionState[];
beforeEach(() => {
  ({ session, paths } = fx);
  states = [];
  session.on('state', (st) => states.push(st));
});

const KiB = 1024;

const submitAndAssign = submitAndAssignTo;
const read = readRecord;
const record = async (id: string): Promise<TaskRecord> => (await read(session, paths, id)).record;

describe('sized multis', () => {
  it("a cancel's reason is cut like a handler's message: a 1.5 MB reason cancels, in one request", async () => {
    const client = await DroverClient.connect({ session, root: paths.root });
    const { id } = await client.submit({ type: 'echo', id: 'long-reason' });
    const reason = 'r'.repeat(1_500_000);
    expect(await client.cancel(id, reason)).toEqual({ cancelled: true, state: 'cancelled' });
    const rec = await record(id);
    expect(rec.error!.kind).toBe('cancelled');
    expect(rec.error!.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    expect(rec.error!.message).toContain('(1500000 characters, cut)');
    expect(states).not.toContain('disconnected');
    await client.close();
  });

  it('the unknown-type message of a worker with hundreds of handlers is cut', async () => {
    const handlers = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`handler-${i.toString().padStart(3, '0')}-${'h'.repeat(80)}`, () => i]));
    const w = await fx.startWorker({ gracePeriodMs: 1000, handlers });
    // Played as a leader that does not place by type would.
    const [cur] = await submitAndAssign(session, paths, w.memberName!, [{ type: 'resize', id: 'no-handler' }]);
    const rec = await waitFor(async () => ((r) => (r.state === 'queued' ? r : null))(await record(cur!.record.id)), { message: 'lost to unknown-type' });
    expect(rec.error!.kind).toBe('unknown-type');
    expect(rec.error!.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    expect(rec.error!.message).toMatch(/^no handler for task type "resize" on worker w1~\S+ \(known: echo, fail, handler-000-h+, .*, … \d+ more\)$/);
  });

  it("a failure's finish is sized: a 2 MB message is cut and commits in one request", async () => {
    const [cur] = await submitAndAssign(session, paths, 'w~x', [{ type: 'echo', id: 'huge-failure', maxAttempts: 1 }]);
    const t = fittedFinishOps(paths, cur!, { kind: 'failure', error: { kind: 'handler', retryable: false, message: 'm'.repeat(2_000_000) } }, Date.now());
    expect(opsBytes(t.ops)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    await session.multi(t.ops);
    const rec = await record('huge-failure');
    expect(rec).toMatchObject({ state: 'failed', error: { kind: 'handler' } });
    expect(rec.error!.message).toContain('(2000000 characters, cut)');
    expect(states).not.toContain('disconnected');
  });

  it('a burst of starts through a chroot is batched small enough that the chroot in front of every path still fits', async () => {
    // A long chroot: the library puts it in front of every path of a request, which the
    // batch's size (counted on the paths as given) does not see.
    const chroot = `/c-${'x'.repeat(120)}`;
    await session.create(chroot);
    const chrooted = await fx.openSession({ connectString: `${zkConnect()}${chroot}` });
    const cstates: SessionState[] = [];
    chrooted.on('state', (s) => cstates.push(s));
    const cpaths = await freshLayout(chrooted, uniqueRoot());
    // 200 assignments of ~5 KiB records: over 1 MiB together, so a batch fills up its bytes.
    const curs = await submitAndAssign(
      chrooted,
      cpaths,
      'w~c',
      Array.from({ length: 200 }, (_, i) => ({ type: 'echo', id: `s${i}`, payload: 'p'.repeat(5 * KiB) })),
    );
    const batches: number[] = [];
    for (let i = 0; i < curs.length; ) {
      const v = await startBatch({ session: chrooted, paths: cpaths }, curs, i);
      expect(v.kind).toBe('committed');
      batches.push(v.taken);
      i += v.taken;
    }
    expect(batches.length).toBeGreaterThan(1);
    expect(cstates).not.toContain('disconnected');
    expect((await read(chrooted, cpaths, 's199')).record.state).toBe('running');
  }, 30_000);
});
