// A master's start waits for its candidacy: a master that may not even join the election
// (a read-only identity) exits with the refusal's one line rather than stay up, healthy to
// its /healthz, unable ever to lead.
import type { LeaderElection } from '../shared/zk/election.js';
import { SessionClosedError } from '../shared/zk/errors.js';
import type { SessionState, ZkSession } from '../shared/zk/session.js';

/**
 * Settles with the election's first outcome: a candidate (following or leading), or a refusal
 * (NO_AUTH: an identity that may not create in the election directory, a read-only one say),
 * which a start reports as its error instead of staying up as a master that can never lead.
 * Later refusals (an ACL changed under a running master) back off inside the election.
 */
export function candidacy(election: LeaderElection, session: ZkSession): Promise<void> {
  if (election.role !== 'candidate') return Promise.resolve();
  if (session.state === 'closed') return Promise.reject(closed());
  return new Promise<void>((resolve, reject) => {
    const settle = (err?: Error) => {
      election.off('role', onRole);
      election.off('refused', settle);
      election.off('gone', onGone);
      session.off('state', onState);
      if (err) reject(err);
      else resolve();
    };
    const onRole = (role: string) => role !== 'candidate' && settle();
    // The root went: whenGone carries that line.
    const onGone = () => settle();
    // Closed (AUTH_FAILED on a reconnect closes it, say): no check will ever run again.
    const onState = (state: SessionState) => state === 'closed' && settle(closed());
    election.on('role', onRole);
    session.on('state', onState);
    election.once('refused', settle);
    election.on('gone', onGone);
  });
}

const closed = () => new SessionClosedError('SESSION_CLOSED', 'session closed before this master joined the election');
