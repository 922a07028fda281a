// Requests a session has sent, as the ZooKeeper server counts them: the last client xid
// (`lcxid` in the `cons` four-letter reply) of the session's connection. Every request but a
// ping takes the next xid, so the difference between two quiet moments is the number of
// requests sent in between, counted by the server, not by the client under test.
import { fourLetter } from '../../shared/zk-server/four-letter.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { zkConnect } from './zk.js';

/** The session's last xid, as its server reports it; throws when the server does not list it. */
export async function lastXid(session: ZkSession): Promise<number> {
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const reply = await fourLetter(host!, Number(port), 'cons', 3000);
  const sid = BigInt(`0x${session.sessionId}`);
  for (const line of (reply ?? '').split('\n')) {
    const m = /sid=0x([0-9a-f]+)[^)]*?lcxid=0x([0-9a-f]+)/.exec(line);
    if (m && BigInt(`0x${m[1]}`) === sid) return Number.parseInt(m[2]!, 16);
  }
  throw new Error(`session 0x${session.sessionId} not listed by the server's cons`);
}
