// The reaper of abandoned sessions.
//
// A session we declared expired ourselves may still live on the server: while no quorum can
// expire it (a lost quorum), and then for one more session timeout once a quorum is back.
// Its ephemerals stay meanwhile: our old election node blocks every newer candidate (nobody
// leads), our old member node keeps a dead incarnation's tasks assigned. Owners have already
// dropped what it guarded, so reattach to it as soon as a server answers, only to close it:
// its ephemerals go at once instead of a session timeout later.
import type { Logger } from '../log.js';
import { createRawClient, guardSocketData, dropSocket, type RawClient } from './raw-client.js';

export class SessionReaper {
  private readonly reapers = new Set<RawClient>();

  constructor(
    private readonly connectString: string,
    private readonly sessionTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Reattaches to the session `sessionId` and closes it. */
  reap(sessionId: Buffer, sessionPassword: Buffer): void {
    const hex = sessionId.toString('hex');
    const reaper = createRawClient(this.connectString, { sessionTimeoutMs: this.sessionTimeoutMs, sessionId, sessionPassword });
    guardSocketData(reaper, this.log);
    const done = () => {
      clearTimeout(timer);
      this.reapers.delete(reaper);
      reaper.close();
      dropSocket(reaper);
    };
    // Past this the server has expired it by itself (or will, with no one to keep it alive).
    const timer = setTimeout(done, 3 * this.sessionTimeoutMs + 10_000);
    timer.unref();
    reaper.once('connected', () => {
      this.log.info({ sessionId: hex }, 'closed the abandoned zookeeper session (its ephemerals go now)');
      clearTimeout(timer);
      this.reapers.delete(reaper);
      reaper.close(); // sends closeSession; the library drops the socket on the reply
    });
    reaper.once('expired', done);
    this.reapers.add(reaper);
    reaper.connect();
  }

  /** Stops every reaper still trying (the session is being closed). */
  stopAll(): void {
    for (const r of this.reapers) {
      r.close();
      dropSocket(r);
    }
    this.reapers.clear();
  }
}
