// What a round reads: no more records of a class than the workers that accept it have free
// slots, however much free capacity other workers have.
import { afterEach, describe, expect, it } from 'vitest';
import { ZkSession } from '../shared/zk/session.js';
import type { HandlerMap } from '../worker/handlers.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { TEST_SESSION_MS, testLog, zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
const sessions: ZkSession[] = [];
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
  for (const s of sessions.splice(0)) await s.close();
});

const GPU_TASKS = 40;

describe('reads per placement', () => {
  it(`${GPU_TASKS} gpu tasks, 1 gpu slot, 400 idle cpu slots: the leader reads about one record per gpu task placed`, async () => {
    const handlers: HandlerMap = { render: () => new Promise((r) => setTimeout(() => r('ok'), 100)) };
    cluster = await startCluster({
      masters: 0,
      workers: [
        { id: 'gpu', concurrency: 1, labels: { gpu: 'yes' }, handlers },
        { id: 'cpu1', concurrency: 200 },
        { id: 'cpu2', concurrency: 200 },
      ],
    });
    const ids = (await cluster.client.submitMany(Array.from({ length: GPU_TASKS }, (_, i) => ({ type: 'render', id: `gpu-${i}`, labels: { gpu: 'yes' } })))).map((r) => r.id);
    // The leader's session, with its record reads counted.
    const session = await ZkSession.open({ connectString: zkConnect(), sessionTimeoutMs: TEST_SESSION_MS, log: testLog });
    sessions.push(session);
    let reads = 0;
    const getData = session.getData.bind(session);
    session.getData = ((path: string, ...rest: unknown[]) => {
      if (path.startsWith(`${cluster!.paths.tasks}/`)) reads++;
      return (getData as (...a: unknown[]) => ReturnType<ZkSession['getData']>)(path, ...rest);
    }) as ZkSession['getData'];
    // Placement reads go through multiReads now: every record path in them counts as a read.
    const getDataMany = session.getDataMany.bind(session);
    session.getDataMany = ((paths: readonly string[], opts?: { maxPerRequest?: number }) => {
      reads += paths.filter((p) => p.startsWith(`${cluster!.paths.tasks}/`)).length;
      return getDataMany(paths, opts);
    }) as ZkSession['getDataMany'];
    await cluster.addMaster({ session });
    const outcomes = await Promise.all(ids.map((id) => cluster!.client.wait(id, { timeoutMs: 30_000 })));
    expect(outcomes.every((o) => o.state === 'succeeded' && o.worker?.startsWith('gpu~'))).toBe(true);
    console.log(`[measure] ${GPU_TASKS} gpu tasks placed one at a time beside 400 idle cpu slots: the leader read ${reads} task records`);
    // Each is read once to learn its class, then once when placed (quota 1 a round). The old
    // limit (all free slots) read every queued gpu record each round: ~GPU_TASKS²/2.
    // Each placed task's record is read at least once (the counting works)...
    expect(reads).toBeGreaterThanOrEqual(GPU_TASKS);
    expect(reads).toBeLessThan(3 * GPU_TASKS);
  }, 60_000);
});
