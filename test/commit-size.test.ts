// Every multi is sized before it is sent. A record holding a large payload and a large
// result (each within its own cap) would be a request over jute.maxbuffer: the server drops
// the connection, and a worker that took that for "outcome unknown" retried for ever. The
// test plays the leader with the protocol's own multi builders, as worker.test.ts does.
import { createRequire } from 'node:module';
import { beforeEach, describe, expect, it } from 'vitest';
import { Paths } from '../shared/protocol/paths.js';
import { MAX_REQUEST_BYTES, assignOps, opsBytes, queueEntryOf, submitOps } from '../shared/protocol/task-ops.js';
import { ZK_MAX_REQUEST_BYTES, checkLimits, newTaskRecord, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { ConnectionLossError } from '../shared/zk/errors.js';
import type { Op, ZkSession } from '../shared/zk/session.js';
import { Worker, WorkerOptionError, type WorkerOptions } from '../worker/worker.js';
import { TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';
import { readRecord, submitAndAssignTo, useWorkerFixture } from './harness/worker-fixture.js';
import { waitFor } from './harness/wait-for.js';

const fx = useWorkerFixture({ gracePeriodMs: 1000 });
const startWorker = (opts: Partial<WorkerOptions> = {}) => fx.startWorker(opts);
let session: ZkSession;
let paths: Paths;
beforeEach(() => {
  ({ session, paths } = fx);
});

const KiB = 1024;
/** Each cap as large as allowed alone; a client with the first, a worker with the second. */
const clientLimits: SizeLimits = { maxPayloadBytes: 512 * KiB, maxResultBytes: 64 * KiB };
const workerLimits: Partial<SizeLimits> = { maxResultBytes: 512 * KiB };

/** Submits and assigns each task to `member` (one multi each, as client and leader do). */
async function submitAndAssign(member: string, inputs: SubmitInput[]): Promise<string[]> {
  return (await submitAndAssignTo(session, paths, member, inputs, clientLimits)).map((t) => t.record.id);
}

const record = async (id: string): Promise<TaskRecord> => (await readRecord(session, paths, id)).record;

describe('multi sizes', () => {
  it('opsBytes is the jute encoding of the request, and the real server takes exactly that much', async () => {
    // The library's own encoder agrees, op by op.
    const require = createRequire(import.meta.url);
    const jute = require('node-zookeeper-client/lib/jute/index.js') as { TransactionRequest: new (ops: unknown[]) => { byteLength(): number } };
    const Transaction = require('node-zookeeper-client/lib/Transaction.js') as { prototype: object };
    const ops: Op[] = [
      { op: 'check', path: `${paths.root}/a`, version: 0 },
      { op: 'create', path: `${paths.root}/ü-b`, data: Buffer.alloc(10) },
      { op: 'create', path: `${paths.root}/c` },
      { op: 'setData', path: `${paths.root}/d`, data: Buffer.alloc(1000), version: 3 },
      { op: 'remove', path: `${paths.root}/e` },
    ];
    const tx = Object.assign(Object.create(Transaction.prototype) as Record<string, (...a: unknown[]) => unknown>, { ops: [] as unknown[] });
    tx.check!(`${paths.root}/a`, 0);
    tx.create!(`${paths.root}/ü-b`, Buffer.alloc(10), 0);
    tx.create!(`${paths.root}/c`, Buffer.alloc(0), 0);
    tx.setData!(`${paths.root}/d`, Buffer.alloc(1000), 3);
    tx.remove!(`${paths.root}/e`, -1);
    expect(opsBytes(ops)).toBe(8 + new jute.TransactionRequest(tx.ops as unknown[]).byteLength());

    // The server's limit: a request of exactly jute.maxbuffer is served, one byte more is not.
    const node = `${paths.root}/big`;
    await session.create(node);
    const sized = (bytes: number): Op[] => {
      const op = (n: number): Op[] => [{ op: 'setData', path: node, data: Buffer.alloc(n) }];
      return op(bytes - opsBytes(op(0)));
    };
    expect(opsBytes(sized(ZK_MAX_REQUEST_BYTES))).toBe(ZK_MAX_REQUEST_BYTES);
    await session.multi(sized(ZK_MAX_REQUEST_BYTES));
    const other = await fx.openSession();
    await expect(other.multi(sized(ZK_MAX_REQUEST_BYTES + 1))).rejects.toBeInstanceOf(ConnectionLossError);
  });

  it('a large payload with a large result, each within its cap, fails as too-large at once instead of running for ever', async () => {
    const w = await startWorker({ limits: workerLimits, handlers: { big: () => 'r'.repeat(512 * KiB - 2) } });
    // As JSON each is exactly its cap: a record holding both is over 1 MiB.
    const [id] = await submitAndAssign(w.memberName!, [{ type: 'big', payload: 'p'.repeat(512 * KiB - 2), maxAttempts: 3 }]);
    const rec = await waitFor(async () => ((r) => (r.state === 'failed' ? r : null))(await record(id!)), { timeoutMs: 5000, message: 'task failed too-large' });
    expect(rec.error).toMatchObject({ kind: 'too-large', retryable: false });
    expect(rec.error!.message).toMatch(/payload \(524288 bytes\) and result \(524288 bytes\) would be a \d+-byte write, over ZooKeeper's \d+-byte request limit/);
    expect(rec.result).toBeUndefined();
    expect(rec.attempt).toBe(1);
    expect(w.stats).toMatchObject({ committed: 1, fenced: 0 });
  });

  it('a burst of large assignments is started in multis that fit: the connection is never dropped', async () => {
    const shared = await fx.openSession();
    const states: string[] = [];
    shared.on('state', (s) => states.push(s));
    // Waiting for the worker before it starts, so that its first listing sees them all at once.
    const member = Paths.memberName('w1', shared.sessionId);
    const ids = await submitAndAssign(member, [0, 1, 2].map((n) => ({ type: 'echo', payload: { n, pad: 'p'.repeat(400 * KiB) } })));
    const w = await startWorker({ session: shared, connectString: undefined, limits: workerLimits });
    expect(w.memberName).toBe(member);
    for (const id of ids) await waitFor(async () => (await record(id)).state === 'succeeded', { message: `task ${id} succeeded` });
    expect(states).not.toContain('disconnected');
  });

  it('refuses caps that cannot fit together in one request, naming both', () => {
    const both = { maxPayloadBytes: 512 * KiB, maxResultBytes: 512 * KiB };
    expect(() => checkLimits(both)).toThrow(/maxPayloadBytes \(524288\) \+ maxResultBytes \(524288\) .* cannot be written in one ZooKeeper request/);
    expect(() => new Worker({ id: 'w', connectString: 'x:1', limits: both })).toThrow(WorkerOptionError);
    expect(() => new Worker({ id: 'w', connectString: 'x:1', limits: both })).toThrow(/limits .*maxPayloadBytes.*maxResultBytes/);
    // Each at its largest alone still fits with the other at its default.
    expect(checkLimits(clientLimits)).toEqual(clientLimits);
    expect(checkLimits(workerLimits).maxResultBytes).toBe(512 * KiB);
    expect(MAX_REQUEST_BYTES).toBeLessThan(ZK_MAX_REQUEST_BYTES);
  });
});
