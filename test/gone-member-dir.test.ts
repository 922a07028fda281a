// A gone member's assignment directory is deleted once what it held is taken back, even
// when it also holds a node that is no assignment (nothing would ever take that back: the
// directory's removal was refused NOT_EMPTY, again every second, for good).
import { afterEach, describe, expect, it } from 'vitest';
import { Paths } from '../shared/protocol/paths.js';
import { readTask } from '../shared/protocol/task-store.js';
import { LeaderStage } from './harness/leader-stage.js';
import { submitAndAssignTo } from './harness/worker-fixture.js';
import { SessionPool, freshLayout } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

const pool = new SessionPool();
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await pool.closeAll();
});

describe("a gone member's directory", () => {
  it('holding a stray node and an assignment: the task goes back to the queue, the stray node and the directory go', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    // A member that is gone (no member node): its directory holds a real assignment and a stray node.
    const ghost = 'ghost~0123456789abcdef';
    await submitAndAssignTo(admin, paths, ghost, [{ type: 'echo', id: 'held' }]);
    await admin.create(`${paths.assignDir(ghost)}/not-an-assignment`);
    expect(Paths.parseAssignment('not-an-assignment')).toBeNull();

    const stage = await LeaderStage.start(await pool.open(), paths);
    stops.push(() => stage.stop());
    await waitFor(async () => (await admin.exists(paths.assignDir(ghost))) === null, { timeoutMs: 5000, message: "the gone member's directory removed" });
    const r = await readTask(admin, paths, 'held');
    expect(r.kind === 'ok' && r.record.state).toBe('queued');
    expect(stage.reconciler.knows(ghost)).toBe(false);
  });

  it('a stray node that cannot be removed (it has a child): the directory stays, is tried again later, and goes once cleared', async () => {
    const admin = await pool.open();
    const paths = await freshLayout(admin);
    const ghost = 'ghost~fedcba9876543210';
    await admin.mkdirp(paths.assignDir(ghost));
    await admin.create(`${paths.assignDir(ghost)}/junk`);
    await admin.create(`${paths.assignDir(ghost)}/junk/below`);
    const stage = await LeaderStage.start(await pool.open(), paths);
    stops.push(() => stage.stop());
    // The stray node has a child of its own: it cannot be removed, the directory stays (retried later, backing off).
    await stage.settle();
    expect(await admin.exists(paths.assignDir(ghost))).not.toBeNull();
    // Cleared by hand: the next try removes the directory.
    await admin.remove(`${paths.assignDir(ghost)}/junk/below`);
    await admin.remove(`${paths.assignDir(ghost)}/junk`);
    await waitFor(async () => (await admin.exists(paths.assignDir(ghost))) === null, { timeoutMs: 5000, message: 'the directory removed once cleared' });
  });
});
