// The worker's batched reads are pooled and fail apart, against a real ZooKeeper: the
// read-backs of unknown commits (worker/verify-reads.ts) and a burst's reads
// (worker/burst-reads.ts) keep at most 4 big multiReads (16 lone reads of unknown size) in
// flight, and a read that fails (here: a record the server will not let us read, NOAUTH)
// fails only what it was reading; every other asker gets its own record. A reply stays under
// 1 MiB even when every record read grew by a cancel reason since it was sized.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import { cancelOps } from '../shared/protocol/task-ops.js';
import { encodeRecord } from '../shared/protocol/task-record.js';
import type { ZkSession } from '../shared/zk/session.js';
import { readBurst, type BurstEntry } from '../worker/burst-reads.js';
import { VerifyReads } from '../worker/verify-reads.js';
import { SessionPool, freshLayout } from './harness/zk.js';
import { readRecord } from './harness/worker-fixture.js';
import { assignBurst } from './harness/worker-helpers.js';
import { countReads, makeUnreadable } from './harness/worker-read-tools.js';

const MEMBER = 'm~00000000000000cc';
const pool = new SessionPool();
let session: ZkSession;
let reader: ZkSession;
let paths: Paths;
beforeEach(async () => {
  session = await pool.open();
  reader = await pool.open();
  paths = await freshLayout(session);
  return () => pool.closeAll();
});

const entry = (taskId: string): BurstEntry => ({ key: paths.assignment(MEMBER, taskId, 1), taskId, attempt: 1 });
/** 12 records of 20 KiB (each read alone: over 16 KiB) and 10 small ones; the 4th small one unreadable. */
async function mixed() {
  const big = await assignBurst(session, paths, MEMBER, Array.from({ length: 12 }, (_, i) => ({ type: 'echo', payload: `${i}`.padEnd(20_000, 'x') })));
  const small = await assignBurst(session, paths, MEMBER, Array.from({ length: 10 }, (_, i) => ({ type: 'echo', payload: i })));
  const bad = small[3]!.record.id;
  await makeUnreadable(session, paths, bad);
  return { all: [...big, ...small], bad };
}

describe('worker reads, pooled', () => {
  it('read-backs: at most 4 multiReads in flight; the unreadable record fails its own asker only', async () => {
    const { all, bad } = await mixed();
    const seen = countReads(reader);
    const reads = new VerifyReads(reader, paths);
    const got = await Promise.allSettled(all.map((t) => reads.read({ taskId: t.record.id, member: MEMBER, key: paths.assignment(MEMBER, t.record.id, 1) }, t.record)));
    // 12 alone and one shared read of the 10 small records.
    expect(seen.sent).toBe(13);
    expect(seen.maxInFlight).toBe(4);
    got.forEach((g, i) => {
      const t = all[i]!;
      if (t.record.id === bad) {
        expect(g.status).toBe('rejected');
        expect(String((g as PromiseRejectedResult).reason)).toMatch(/-102|NO_?AUTH/i);
      } else expect(g).toEqual({ status: 'fulfilled', value: { read: { kind: 'ok', record: t.record, version: t.version }, assigned: true } });
    });
    // Records alone (the cancel reason of a fenced attempt): the same pool, no listing.
    const alone = await Promise.all(all.filter((t) => t.record.id !== bad).map((t) => reads.record(t.record.id, t.record)));
    expect(alone.every((r) => r.kind === 'ok')).toBe(true);
    expect(seen.maxInFlight).toBe(4);
  });

  it('a burst: at most 4 big reads and 16 lone ones in flight; what failed is left out and said, the rest read', async () => {
    const { all, bad } = await mixed();
    const seen = countReads(reader);
    const burst = await readBurst(reader, paths, all.map((t) => entry(t.record.id)), () => false);
    // One read of the 22 assignment nodes; the records: 12 alone, one of the 10 small ones.
    expect(seen.sent).toBe(14);
    expect(seen.maxInFlight).toBe(4);
    expect(String(burst.failed)).toMatch(/-102|NO_?AUTH/i);
    expect(burst.reads.map((r) => r.taskId).sort()).toEqual(all.map((t) => t.record.id).filter((id) => id !== bad).sort());
    for (const r of burst.reads) expect(r.read).toMatchObject({ kind: 'ok', version: all.find((t) => t.record.id === r.taskId)!.version });

    // Nodes that may carry progress (held before) are read alone, 16 at a time.
    const lone = countReads(reader);
    const again = await readBurst(reader, paths, all.map((t) => entry(t.record.id)), () => true);
    expect(lone.sent).toBe(22 + 13);
    expect(lone.maxInFlight).toBe(16);
    expect(again.reads).toHaveLength(21);
  });
});

describe('worker reads, bounded', () => {
  /** A cancel reason as long as a record keeps, every character escaped in JSON (6 bytes each): ~24 KiB. */
  const REASON = '\u0001'.repeat(4096);

  it('records that grew by a cancel reason since they were sized: every reply stays under 1 MiB', async () => {
    const N = 100;
    const tasks = await assignBurst(session, paths, MEMBER, Array.from({ length: N }, (_, i) => ({ type: 'echo', payload: i })));
    // Each cancelled; its assignment node put back as it was (sized by the record as assigned).
    const nodes = await Promise.all(tasks.map(async (t) => (await session.getData(paths.assignment(MEMBER, t.record.id, 1))).data));
    for (const t of tasks) await session.multi(cancelOps(paths, t, REASON, Date.now()).ops);
    for (const [i, t] of tasks.entries()) await session.create(paths.assignment(MEMBER, t.record.id, 1), nodes[i]);
    expect(encodeRecord((await readRecord(session, paths, tasks[0]!.record.id)).record).length).toBeGreaterThan(24 * 1024);

    const verify = countReads(reader);
    const reads = new VerifyReads(reader, paths);
    const got = await Promise.all(tasks.map((t) => reads.read({ taskId: t.record.id, member: MEMBER, key: paths.assignment(MEMBER, t.record.id, 1) }, t.record)));
    expect(got.every((g) => g.read.kind === 'ok' && g.read.record.state === 'cancelled')).toBe(true);
    expect(verify.maxReplyDataBytes).toBeLessThan(1024 * 1024 - 100 * N);

    const burstReads = countReads(reader);
    const burst = await readBurst(reader, paths, tasks.map((t) => entry(t.record.id)), () => false);
    expect(burst.failed).toBeUndefined();
    expect(burst.reads).toHaveLength(N);
    expect(burstReads.maxReplyDataBytes).toBeLessThan(1024 * 1024 - 100 * N);
  });
});
