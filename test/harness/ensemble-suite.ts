// One 3-server ensemble for a test file: started once, every member brought back up after
// each test, sessions and registered stops undone after each test, all stopped at the end.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { ZkSession } from '../../shared/zk/session.js';
import { startEnsemble, type ZkEnsemble } from '../../shared/zk-server/launcher.js';
import { testLog } from './zk.js';

export interface EnsembleSuite {
  /** The ensemble (set once beforeAll has run). */
  readonly ensemble: ZkEnsemble;
  /** A session on the ensemble, closed after the test. */
  open(): Promise<ZkSession>;
  /** Runs after the test, last registered first. */
  onCleanup(...stop: Array<() => Promise<void> | void>): void;
}

export function useEnsemble(sessionTimeoutMs: number): EnsembleSuite {
  let ensemble: ZkEnsemble | undefined;
  const sessions: ZkSession[] = [];
  const stops: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    ensemble = await startEnsemble({ tickTimeMs: 200 });
  }, 60_000);
  afterAll(async () => {
    await ensemble?.stopAll();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await Promise.resolve().then(stop).catch(() => undefined);
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    // Every member back up for the next test.
    await Promise.all((ensemble?.servers ?? []).map((s) => (s.isRunning() ? undefined : s.restart({ timeoutMs: 60_000 }))));
  });
  return {
    get ensemble() {
      if (!ensemble) throw new Error('the ensemble is not started yet (use it inside a test)');
      return ensemble;
    },
    async open() {
      const s = await ZkSession.open({ connectString: this.ensemble.connectString, sessionTimeoutMs, log: testLog });
      sessions.push(s);
      return s;
    },
    onCleanup(...stop) {
      stops.push(...stop);
    },
  };
}
