import type { TestProject } from 'vitest/node';
import { provideZooKeeper, type ZkProvision } from '../../shared/zk-server/launcher.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connect string of the suite-wide ZooKeeper (from provideZooKeeper). */
    zkConnect: string;
  }
}

let zk: ZkProvision | undefined;

/**
 * One real ZooKeeper for the whole run (tickTime 200 ms: sessions may be 0.4–4 s).
 * No ZooKeeper → provideZooKeeper throws and the whole suite fails: never skip.
 */
export async function setup(project: TestProject): Promise<void> {
  const t0 = Date.now();
  zk = await provideZooKeeper({ tickTimeMs: 200, sizing: 'suite', log: (m) => console.log(`[zk] ${m}`) });
  console.log(`[zk] using ${zk.kind} ZooKeeper at ${zk.connectString} (ready in ${Date.now() - t0} ms)`);
  project.provide('zkConnect', zk.connectString);
}

export async function teardown(): Promise<void> {
  await zk?.stop();
  zk = undefined;
}
