// A session that reaches the suite's ZooKeeper through a TCP proxy of its own, so a test can
// cut it (proxy.cut) while the server and every other session carry on.
import { TcpProxy } from './tcp-proxy.js';
import { ZkSession } from '../../shared/zk/session.js';
import { testLog, zkConnect } from './zk.js';

/** Opens it; `cleanups` gets the session's close and the proxy's stop (run them last-in first-out). */
export async function proxiedSession(sessionTimeoutMs: number, cleanups: Array<() => Promise<void>>): Promise<{ proxy: TcpProxy; session: ZkSession }> {
  const [host, port] = zkConnect().split(',')[0]!.split(':');
  const proxy = await TcpProxy.start(host!, Number(port));
  cleanups.push(() => proxy.stop());
  const session = await ZkSession.open({ connectString: proxy.connectString, sessionTimeoutMs, log: testLog });
  cleanups.push(() => session.close());
  return { proxy, session };
}
