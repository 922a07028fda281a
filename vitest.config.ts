import { defineConfig } from 'vitest/config';

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
    globalSetup: ['test/harness/global-setup.ts'],
  },
});
