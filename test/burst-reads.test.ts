// A worker's batched reads against a real ZooKeeper: a burst of assignments
// (worker/burst-reads.ts) and the read-backs of unknown commits (worker/verify-reads.ts), in
// few requests (counted by the server: the session's last xid), each reply bounded, every
// kind of entry (small, big, of unknown size, gone, missing or malformed record) read right.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';
import { ALONE_ABOVE_BYTES, ITEM_SLACK_BYTES, MESSAGE_GROWTH_BYTES, RECORDS_PER_READ, REPLY_BUDGET_BYTES, groupBySize, readBurst, type BurstEntry } from '../worker/burst-reads.js';
import { VerifyReads } from '../worker/verify-reads.js';
import { SessionPool, freshLayout } from './harness/zk.js';
import { quietXid, assignBurst } from './harness/worker-helpers.js';

const MEMBER = 'm~00000000000000bb';
const pool = new SessionPool();
let session: ZkSession;
let reader: ZkSession;
let paths: Paths;
beforeEach(async () => {
  session = await pool.open();
  reader = await pool.open();
  paths = await freshLayout(session);
  await reader.exists(paths.root); // a first request: the server's last xid counts from it
  return () => pool.closeAll();
});

const entry = (taskId: string): BurstEntry => ({ key: paths.assignment(MEMBER, taskId, 1), taskId, attempt: 1 });

/** Requests `reader` sends while `fn` runs, as the server counts them. */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; requests: number }> {
  const before = await quietXid(reader, 100);
  const value = await fn();
  return { value, requests: (await quietXid(reader, 100)) - before };
}

describe('burst reads', () => {
  it('groups records by the size they had when assigned: small ones share a read, big or unknown ones go alone', () => {
    const sizes = (g: number[][]) => g.map((x) => x.length);
    const bytes = (b: number) => (b < 0 ? undefined : b);
    // 250 of 1 000 bytes: 20 a read; 30 of 16 KiB: 20 too (within the budget), then the rest.
    expect(sizes(groupBySize(Array<number>(250).fill(1000), bytes))).toEqual([...Array<number>(12).fill(RECORDS_PER_READ), 10]);
    const full = groupBySize(Array<number>(30).fill(ALONE_ABOVE_BYTES), bytes);
    expect(sizes(full)).toEqual([20, 10]);
    expect(RECORDS_PER_READ * (ALONE_ABOVE_BYTES + ITEM_SLACK_BYTES)).toBeLessThanOrEqual(REPLY_BUDGET_BYTES);
    // Even if each has grown by a message since it was sized, a reply stays under 1 MiB.
    expect(RECORDS_PER_READ * (ALONE_ABOVE_BYTES + ITEM_SLACK_BYTES + MESSAGE_GROWTH_BYTES)).toBeLessThan(1024 * 1024);
    // Over 16 KiB or of unknown size: alone, and the small ones around them still share.
    const mixed = groupBySize([10, ALONE_ABOVE_BYTES + 1, 20, -1, 30], bytes);
    expect(mixed).toEqual([[ALONE_ABOVE_BYTES + 1], [-1], [10, 20, 30]]);
  });

  it('a burst: one read of the assignments, then one per group of records; every kind of entry read right', async () => {
    const small = await assignBurst(session, paths, MEMBER, Array.from({ length: 30 }, (_, i) => ({ type: 'echo', payload: i })));
    const big = await assignBurst(session, paths, MEMBER, [{ type: 'echo', payload: 'x'.repeat(40_000) }, { type: 'echo', payload: 'y'.repeat(40_000) }]);
    // Assignments written by hand (no recordBytes): read alone; one record missing, one malformed.
    await session.create(paths.assignment(MEMBER, 'no-record', 1), Buffer.from('{}'));
    await session.create(paths.task('broken'), Buffer.from('{not json'));
    await session.create(paths.assignment(MEMBER, 'broken', 1), Buffer.from('{}'));
    const entries = [...small, ...big].map((t) => entry(t.record.id));
    entries.push(entry('no-record'), entry('broken'), entry('never-assigned'));
    const { value: burst, requests } = await counted(() => readBurst(reader, paths, entries, () => false));
    expect(burst.failed).toBeUndefined();
    const reads = burst.reads;
    // 1 multiRead of the 35 assignment nodes; records: 2 for the 30 small, 2 big, 2 unknown.
    expect(requests).toBe(7);
    // The gone assignment is left out; the others in order, each with its node's data.
    expect(reads.map((r) => r.taskId).sort()).toEqual(entries.slice(0, -1).map((e) => e.taskId).sort());
    for (const t of [...small, ...big]) {
      const r = reads.find((x) => x.taskId === t.record.id)!;
      expect(r.read).toEqual({ kind: 'ok', record: t.record, version: t.version });
      expect(JSON.parse(r.assignment!.toString())).toMatchObject({ attempt: 1, recordBytes: expect.any(Number) });
    }
    expect(reads.find((r) => r.taskId === 'no-record')!.read).toEqual({ kind: 'missing' });
    expect(reads.find((r) => r.taskId === 'broken')!.read).toMatchObject({ kind: 'malformed', version: 0 });
  });

  it('a lone assignment costs one request (its node and record together); one that may carry progress is read alone', async () => {
    const [t] = await assignBurst(session, paths, MEMBER, [{ type: 'echo', payload: 1 }]);
    const one = await counted(async () => (await readBurst(reader, paths, [entry(t!.record.id)], () => false)).reads);
    expect(one.requests).toBe(1);
    expect(one.value[0]).toMatchObject({ read: { kind: 'ok', version: t!.version }, assignment: expect.any(Buffer) });
    const held = await counted(async () => (await readBurst(reader, paths, [entry(t!.record.id)], () => true)).reads);
    expect(held.requests).toBe(1);
    expect(held.value[0]!.assignment).toBeUndefined();
    // In a burst: its node alone, the others' together.
    const more = await assignBurst(session, paths, MEMBER, [{ type: 'echo', payload: 2 }, { type: 'echo', payload: 3 }]);
    const mixed = await counted(async () => (await readBurst(reader, paths, [t!, ...more].map((x) => entry(x.record.id)), (k) => k === entry(t!.record.id).key)).reads);
    // Nodes: 1 (two) + 1 (the held one); records: one read of all three.
    expect(mixed.requests).toBe(3);
    expect(mixed.value.map((r) => r.read.kind)).toEqual(['ok', 'ok', 'ok']);
  });

  it('read-backs asked in one turn go together: one listing of the directory, the records packed by the size to be written', async () => {
    const tasks = await assignBurst(session, paths, MEMBER, Array.from({ length: 20 }, (_, i) => ({ type: 'echo', payload: i })));
    const big = await assignBurst(session, paths, MEMBER, [{ type: 'echo', payload: 'z'.repeat(30_000) }]);
    // Two of them no longer assigned (as after a commit that went through, or a take-back).
    await session.remove(paths.assignment(MEMBER, tasks[3]!.record.id, 1));
    await session.remove(paths.assignment(MEMBER, big[0]!.record.id, 1));
    const reads = new VerifyReads(reader, paths);
    const all = [...tasks, ...big];
    const { value, requests } = await counted(() => Promise.all(all.map((t) => reads.read({ taskId: t.record.id, member: MEMBER, key: paths.assignment(MEMBER, t.record.id, 1) }, t.record))));
    // The listing, one multiRead of the 20 small records, the big one alone (was 2 a task: 42).
    expect(requests).toBe(3);
    value.forEach((v, i) => {
      expect(v.read).toEqual({ kind: 'ok', record: all[i]!.record, version: all[i]!.version });
      expect(v.assigned).toBe(i !== 3 && i !== 20);
    });
  });
});
