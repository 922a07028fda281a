// The chaos suite, short and with a fixed seed: a real 3-server ensemble, 3 masters and 4
// workers as real processes, 300 tasks streamed in while every fault kind is injected at
// least once (kills, failpoint crashes inside assignment batches and commits, drains,
// partitions of a worker and of the leader, frozen processes, a network blip, ZooKeeper
// server kills, quorum loss). A fifth of the tasks are small DAGs (some with a parent made to
// fail), and two catch-up schedules fire through the faults. The checker
// must pass: nothing lost, one outcome each, correct results, every duplicate execution
// explained, no worker over capacity; no dependent taken before its parents ended, each ended
// as its graph says, none released twice; every schedule occurrence from the first to the
// cursor ran once, none skipped. `npm run chaos` is the long version.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChaosRun } from '../scripts/chaos/runner.js';
import { formatSummary } from '../scripts/chaos/summary.js';
import { FAULT_KINDS } from '../scripts/chaos/timeline.js';
import { repoRoot } from '../scripts/chaos/util.js';

if (!existsSync(join(repoRoot(), 'dist', 'cli', 'main.js'))) {
  throw new Error('dist/ is missing: run `npm test` (it builds first) or `npx tsc -p tsconfig.json`');
}

const SEED = 4242;
const run = new ChaosRun({
  tasks: 300,
  seconds: 45,
  seed: SEED,
  // Per process: two suites side by side must not share logs or pid files.
  dir: join(repoRoot(), '.drover', 'chaos', `test-${SEED}-${process.pid}`),
  gapMs: [300, 1000],
  taskMs: [20, 400],
  settleTimeoutMs: 45_000,
  // The timeline goes to .drover/chaos/test-<seed>-<pid>/timeline.jsonl; the summary is printed below.
  say: () => {},
});

// Stops every process, proxy and server the run started, also when the test failed or timed out.
afterAll(() => run.abort(), 60_000);

describe('chaos (fixed seed)', () => {
  it('every fault kind, 300 tasks (a fifth in DAGs) and two schedules: nothing lost, one outcome each, every duplicate explained, DAG order and schedule occurrences held', async () => {
    const report = await run.run();
    console.log(formatSummary(report));
    for (const kind of FAULT_KINDS) expect(report.faults[kind].count, kind).toBeGreaterThanOrEqual(1);
    expect(report).toMatchObject({
      tasks: 300,
      unacked: [],
      lost: [],
      notTerminal: [],
      doneEntries: [],
      committedTwice: [],
      badResult: [],
      wrongOutcome: [],
      unexplained: [],
      unexpectedExits: [],
      capacity: { violations: [] },
    });
    // The DAG tasks made to fail, and their dependents, are the only ones not succeeded.
    const failing = report.dag.tasks - (report.dag.planned.succeeded ?? 0);
    expect(failing).toBeGreaterThan(0);
    expect(report.byState).toEqual({ succeeded: 300 - failing, failed: failing });
    expect(report.dag).toMatchObject({ releasedEarly: [], wrongEnd: [], ranDespiteFailedParent: [], releasedTwice: [], violations: 0 });
    expect(report.dag.tasks).toBeGreaterThanOrEqual(50);
    expect(report.dag.ended).toEqual(report.dag.planned);
    expect(report.dag.planned['dependency-failed']).toBeGreaterThan(0);
    expect(report.dag.ranAfterFailedParent).toBeGreaterThan(0);
    expect(report.schedules).toMatchObject({ missing: [], extra: [], skipped: [], notSucceeded: [], ranTwice: [], problems: [], violations: 0 });
    expect(report.schedules.schedules).toHaveLength(2);
    // Every second through the whole fault phase (≥ 45 s) and across its leader outages.
    for (const s of report.schedules.schedules) expect(s.succeeded, s.name).toBe(s.occurrences);
    expect(report.schedules.schedules[0]!.occurrences).toBeGreaterThanOrEqual(45);
    // A killed leader is replaced only after its session expires (2 s): the per-second occurrences
    // of that spell were submitted late, by catch-up, and none of them is missing above.
    expect(report.schedules.schedules[0]!.caughtUp).toBeGreaterThanOrEqual(1);
    // And afterwards the cluster is whole: a leader, every process back, every worker gets work.
    expect(report.end.problems).toEqual([]);
    expect(report.failures).toEqual([]);
    expect(report.pass).toBe(true);
  }, 170_000);
});
