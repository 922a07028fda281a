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

interface Reaping {
  client: RawClient;
  /** Starts the give-up clock, once. */
  arm(): void;
  stop(): void;
}

export class SessionReaper {
  private readonly live = new Set<Reaping>();

  constructor(
    private readonly connectString: string,
    private readonly sessionTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Reattaches to the session `sessionId` and closes it. It keeps trying while no server
   * answers, however long: a server that is down expires nothing, and one that restarts
   * restores the session with a fresh timeout, so a reaper that gave up during a long outage
   * left the old session's ephemerals (an old election node) for a whole timeout after it.
   */
  reap(sessionId: Buffer, sessionPassword: Buffer, grantedTimeoutMs: number): void {
    const hex = sessionId.toString('hex');
    const client = createRawClient(this.connectString, { sessionTimeoutMs: this.sessionTimeoutMs, sessionId, sessionPassword });
    guardSocketData(client, this.log);
    let timer: NodeJS.Timeout | undefined;
    const reaping: Reaping = {
      client,
      arm: () => {
        if (timer) return;
        // Servers answer again, so they count the session's timeout now: past a few of them
        // they have expired it by themselves.
        timer = setTimeout(() => {
          this.log.info({ sessionId: hex }, 'gave up closing the abandoned zookeeper session (the servers have expired it by now)');
          client.close();
          reaping.stop();
        }, 3 * Math.max(this.sessionTimeoutMs, grantedTimeoutMs) + 10_000);
        timer.unref();
      },
      stop: () => {
        clearTimeout(timer);
        this.live.delete(reaping);
        dropSocket(client);
      },
    };
    client.once('connected', () => {
      this.log.info({ sessionId: hex }, 'closed the abandoned zookeeper session (its ephemerals go now)');
      clearTimeout(timer);
      this.live.delete(reaping);
      client.close(); // sends closeSession; the library drops the socket on the reply
    });
    client.once('expired', () => {
      client.close();
      reaping.stop();
    });
    this.live.add(reaping);
    client.connect();
  }

  /** A server answers this process again (the session is connected). */
  serversAnswer(): void {
    for (const r of this.live) r.arm();
  }

  /** Stops every reaper still trying (the session is being closed). */
  stopAll(): void {
    for (const r of [...this.live]) {
      r.client.close();
      r.stop();
    }
  }
}
