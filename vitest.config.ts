import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The longest files first (measured in CI runs, each over ~40 s): on a fresh clone vitest has no
 * timings and orders files by size, which left the 90 s chaos test to start last while the other
 * worker idled. Started first, the suite ends about when its two workers run out of files.
 */
const LONGEST_FIRST = ['chaos', 'wait-many', 'quorum', 'cli'].map((n) => `/test/${n}.test.ts`);

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((suffix) => f.moduleId.endsWith(suffix));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real ZooKeeper servers, session expiries and JVM starts: seconds, not milliseconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Child processes (JVMs) and signals: a process per test file isolates them best.
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2, // 2-core machines
    sequence: { sequencer: LongestFirst },
    globalSetup: ['test/harness/global-setup.ts'],
  },
});
