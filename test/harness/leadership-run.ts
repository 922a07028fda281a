// A whole Leadership (master/leadership.ts) on a session the test chose (one through a fault
// proxy, say), after a real election win on it: for tests of the leader's rounds under faults.
import { Leadership, type LeadershipOptions } from '../../master/leadership.js';
import type { Paths } from '../../shared/protocol/paths.js';
import { LeaderElection, type LeaderHandle } from '../../shared/zk/election.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { testLog } from './zk.js';

export const LEADERSHIP_OPTS: LeadershipOptions = { retentionMs: 86_400_000, timeoutGraceMs: 5000, assignBatch: 100, retentionIntervalMs: 60_000 };

export interface LeaderRun {
  leadership: Leadership;
  /** start()'s promise (already awaited unless `start: false`). */
  started: Promise<void>;
  stop(): Promise<void>;
}

/** Wins the election on `session` (nobody else runs under this root) and starts a Leadership. */
export async function runLeadership(session: ZkSession, paths: Paths, opts: { start?: boolean } = {}): Promise<LeaderRun> {
  const election = new LeaderElection(session, paths.election, 'test-leader', testLog);
  const won = new Promise<LeaderHandle>((r) => election.once('leader', r));
  election.start();
  const leadership = new Leadership(session, paths, await won, LEADERSHIP_OPTS, testLog);
  const started = leadership.start();
  started.catch(() => undefined);
  if (opts.start !== false) await started;
  return {
    leadership,
    started,
    async stop() {
      await leadership.stop();
      await election.stop();
    },
  };
}
