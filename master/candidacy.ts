// A master's start waits for its candidacy: a master that may not even join the election
// (a read-only identity) exits with the refusal's one line rather than stay up, healthy to
// its /healthz, unable ever to lead.
import type { LeaderElection } from '../shared/zk/election.js';

/**
 * Settles with the election's first outcome: a candidate (following or leading), or a refusal
 * (NO_AUTH: an identity that may not create in the election directory, a read-only one say),
 * which a start reports as its error instead of staying up as a master that can never lead.
 * Later refusals (an ACL changed under a running master) back off inside the election.
 */
export function candidacy(election: LeaderElection): Promise<void> {
  if (election.role !== 'candidate') return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const settle = (err?: Error) => {
      election.off('role', onRole);
      election.off('refused', settle);
      election.off('gone', onGone);
      if (err) reject(err);
      else resolve();
    };
    const onRole = (role: string) => role !== 'candidate' && settle();
    // The root went: whenGone carries that line.
    const onGone = () => settle();
    election.on('role', onRole);
    election.once('refused', settle);
    election.on('gone', onGone);
  });
}
