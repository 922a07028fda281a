// A single ZooKeeper server down for long, then restarted, with a master leading on it.
// A restarted server restores every session it had, each with a fresh timeout: a session we
// gave up meanwhile lives on with its ephemerals (our old election node, ahead of our new
// candidacy) unless it is closed, so the master would wait a whole session timeout to lead.
import { afterEach, describe, expect, it } from 'vitest';
import { Master } from '../master/master.js';
import { ZkSession } from '../shared/zk/session.js';
import { startLocalServer, type LocalZkServer } from '../shared/zk-server/launcher.js';
import { testLog, uniqueRoot, waitForState } from './harness/zk.js';
import { waitFor } from './harness/wait-for.js';

// The server grants more than is asked (its minSessionTimeout), as servers may: the old
// session then outlives the restart by GRANTED_MS, far more than a leader change takes.
const ASKED_MS = 1000;
const GRANTED_MS = 4000;
// Longer than the old reaper's give-up (3 asked timeouts + 10 s after the expiry): an outage
// a user's restart can take (a stop, a look at the logs, a start).
const OUTAGE_AFTER_EXPIRY_MS = 3 * ASKED_MS + 10_000 + 1500;

let server: LocalZkServer | undefined;
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  await server?.stop();
  server = undefined;
});

describe('a single server restarted after a long outage', () => {
  it('the master leads again at once: its old session, given up during the outage, is closed when the server is back', async () => {
    server = await startLocalServer({ tickTimeMs: 200, extraConfig: { minSessionTimeout: GRANTED_MS } });
    const session = await ZkSession.open({ connectString: server.connectString, sessionTimeoutMs: ASKED_MS, log: testLog });
    stops.push(() => session.close());
    const master = new Master({ session, root: uniqueRoot('restart'), id: 'm1', sessionTimeoutMs: ASKED_MS, shards: 4, log: testLog });
    stops.push(() => master.stop());
    await master.start();
    await waitFor(() => master.isLeader, { message: 'm1 leads' });
    const oldCandidate = master.candidatePath!;
    expect(session.negotiatedTimeoutMs).toBe(GRANTED_MS);

    await server.kill9();
    await waitForState(session, 'expired', 3 * GRANTED_MS);
    expect(master.isLeader).toBe(false);
    // The outage itself (a fault of a given length, not a wait for a condition).
    await new Promise((r) => setTimeout(r, OUTAGE_AFTER_EXPIRY_MS));
    await server.restart();
    const backAt = Date.now();

    await waitFor(() => master.isLeader, { timeoutMs: 3 * GRANTED_MS, intervalMs: 10, message: 'm1 leads again' });
    const leadsAfterMs = Date.now() - backAt;
    expect(master.candidatePath).not.toBe(oldCandidate);
    expect(await session.exists(oldCandidate)).toBeNull();
    // Left to the server, the old session (restored at its start) would last GRANTED_MS more.
    expect(leadsAfterMs).toBeLessThan(GRANTED_MS / 2);
  }, 60_000);
});
