// Big records (over BIG_RECORD_BYTES, 16 KiB) carry the `~b` marker in their queue entry's
// name, so the leader reads them alone and packs the others 32 to a multiRead. The marker is a
// function of the record's bytes: every builder that makes a queue entry sets it, and any
// role finds the entry from the record alone. Round trips through submit, assign, a retry
// and success on a real cluster; an unmarked entry of a big record (made by a drover older
// than the marker) is still assigned and can be cancelled.
import { afterEach, describe, expect, it } from 'vitest';
import { Paths } from '../shared/protocol/paths.js';
import { BIG_RECORD_BYTES, cancelOps, finishOps, queueEntryOf, reclaimOps, submitOps, unmarkedQueueEntryOf } from '../shared/protocol/task-ops.js';
import { assignTask } from '../shared/protocol/task-state.js';
import { decodeRecord, encodeRecord, newTaskRecord } from '../shared/protocol/task-record.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { waitFor } from './harness/wait-for.js';

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const BIG_PAYLOAD = { blob: 'x'.repeat(40_000) };
const nameOf = (path: string) => path.slice(path.lastIndexOf('/') + 1);

describe('the big-record marker (protocol)', () => {
  const paths = new Paths('/big', 8);

  it('follows from the record bytes in every builder of a queue entry', () => {
    const small = newTaskRecord({ type: 'echo', id: 'small', payload: 'x'.repeat(100) });
    const big = newTaskRecord({ type: 'echo', id: 'big', payload: BIG_PAYLOAD });
    const edge = newTaskRecord({ type: 'echo', id: 'edge', payload: '' });
    // A record of exactly BIG_RECORD_BYTES is not big; one byte more is.
    const pad = BIG_RECORD_BYTES - encodeRecord(edge).length;
    const atLimit = { ...edge, payload: 'y'.repeat(pad) };
    expect(encodeRecord(atLimit).length).toBe(BIG_RECORD_BYTES);
    expect(nameOf(queueEntryOf(paths, atLimit))).not.toMatch(/~b$/);
    expect(nameOf(queueEntryOf(paths, { ...atLimit, payload: 'y'.repeat(pad + 1) }))).toMatch(/~b$/);

    expect(nameOf(submitOps(paths, small)[1]!.path)).not.toMatch(/~b$/);
    const entry = submitOps(paths, big)[1]!.path;
    expect(nameOf(entry)).toMatch(/^\d{4}-\d{13}-big~b$/);
    expect(Paths.parseQueueEntry(paths.shard('big'), nameOf(entry))).toMatchObject({ taskId: 'big', big: true });
    expect(Paths.parseQueueEntry(paths.shard('small'), nameOf(submitOps(paths, small)[1]!.path))).toMatchObject({ taskId: 'small', big: false });
    // From the stored bytes back: the same entry.
    expect(queueEntryOf(paths, decodeRecord(encodeRecord(big)))).toBe(entry);
    expect(unmarkedQueueEntryOf(paths, big)).toBe(entry.slice(0, -2));

    // A retry (finish), a take-back (reclaim) and a cancel all find or make the marked entry.
    const assigned = { record: assignTask(big, 'w~1', 1, Date.now()), version: 1 };
    const retry = finishOps(paths, assigned, { kind: 'failure', error: { kind: 'handler', message: 'again', retryable: true } }, Date.now());
    expect(retry.next.state).toBe('queued');
    const requeued = retry.ops.find((o) => o.op === 'create')!.path;
    expect(nameOf(requeued)).toMatch(/~b$/);
    expect(requeued).toBe(queueEntryOf(paths, retry.next));
    const taken = reclaimOps(paths, assigned, { kind: 'worker-lost', message: 'gone', retryable: true }, Date.now(), true);
    expect(nameOf(taken.ops.find((o) => o.op === 'create')!.path)).toMatch(/~b$/);
    expect(cancelOps(paths, { record: big, version: 0 }, 'no', Date.now()).ops[0]).toEqual({ op: 'remove', path: entry });
  });
});

describe('big records on a cluster', () => {
  it('go through the queue, assignment, a retry and success beside small ones', async () => {
    cluster = await startCluster({ masters: 0 });
    const inputs = [
      ...Array.from({ length: 3 }, (_, i) => ({ type: 'flaky', id: `big-${i}`, payload: { ...BIG_PAYLOAD, n: i } })),
      ...Array.from({ length: 40 }, (_, i) => ({ type: 'flaky', id: `small-${i}`, payload: { n: i } })),
    ];
    await cluster.client.submitMany(inputs);
    const { children } = await cluster.admin.getChildren(cluster.paths.queueShard(cluster.paths.shard('big-0')));
    expect(children.find((n) => n.includes('big-0'))).toMatch(/big-0~b$/);

    await cluster.addMaster();
    await cluster.addWorker({
      id: 'w1',
      concurrency: 8,
      handlers: {
        // Fails the first attempt (retryable: back to the queue through the finish), then echoes.
        flaky: (p: { blob?: string; n: number }, ctx) => {
          if (ctx.attempt === 1) throw new Error('first attempt fails');
          return { n: p.n, bytes: p.blob?.length ?? 0 };
        },
      },
    });
    const done = await Promise.all(inputs.map((t) => cluster!.client.wait(t.id!, { timeoutMs: 20_000 })));
    for (const [i, rec] of done.entries()) {
      expect(rec.state).toBe('succeeded');
      expect(rec.attempt).toBe(2);
      expect(rec.result).toEqual({ n: inputs[i]!.payload.n, bytes: i < 3 ? 40_000 : 0 });
    }
  }, 40_000);

  it('an unmarked entry of a big record (an older drover made it) is assigned, and another can be cancelled', async () => {
    cluster = await startCluster({ masters: 0 });
    const { admin, paths } = cluster;
    const legacy = (id: string) => {
      const rec = newTaskRecord({ type: 'echo', id, payload: BIG_PAYLOAD });
      return { rec, ops: [submitOps(paths, rec)[0]!, { op: 'create' as const, path: unmarkedQueueEntryOf(paths, rec) }] };
    };
    const run = legacy('old-run');
    const stay = legacy('old-cancel');
    await admin.multi([...run.ops, ...stay.ops]);
    expect(await cluster.client.cancel('old-cancel', 'not wanted')).toEqual({ cancelled: true, state: 'cancelled' });
    expect(await admin.exists(unmarkedQueueEntryOf(paths, stay.rec))).toBeNull();

    await cluster.addMaster();
    await cluster.addWorker({ id: 'w1', concurrency: 2 });
    const rec = await cluster.client.wait('old-run', { timeoutMs: 15_000 });
    expect(rec.state).toBe('succeeded');
    await waitFor(async () => (await admin.exists(unmarkedQueueEntryOf(paths, run.rec))) === null, { message: 'the unmarked entry removed by the assignment' });
  }, 30_000);
});
