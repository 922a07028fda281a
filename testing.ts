// `drover/testing`: real ZooKeeper servers for tests of code that uses drover, as
// curator-test's TestingServer and TestingCluster are for Curator users. Each server is a
// child JVM of a local install (the Debian/Ubuntu `zookeeper` package, ZOOKEEPER_HOME or
// DROVER_ZK_JAR, with java) on a free 127.0.0.1 port with its own temp dir, stopped by pid,
// and killed by a watchdog if the test process dies without stopping it.
import { startLocalServer, type LocalZkServer, type StartLocalServerOptions } from './shared/zk-server/local-server.js';

/** A running standalone server: `connectString`, `stop()`, and faults (kill9, pause, restart). */
export type TestingServer = LocalZkServer;
export type StartZooKeeperOptions = StartLocalServerOptions;

/**
 * Starts a standalone ZooKeeper and resolves once it serves. Default tickTime 200 ms, so
 * sessions of 400 ms to 4 s are granted (fast expiry in tests). Throws
 * ZooKeeperNotFoundError, saying what to install, when there is no local install.
 */
export function startZooKeeper(opts: StartZooKeeperOptions = {}): Promise<TestingServer> {
  return startLocalServer({ tickTimeMs: 200, ...opts });
}

export { startEnsemble, type StartEnsembleOptions, type ZkEnsemble as TestingEnsemble } from './shared/zk-server/ensemble.js';
export { TcpProxy, type CutMode } from './shared/zk-server/tcp-proxy.js';
export { provideZooKeeper, type ProvideOptions, type ZkProvision } from './shared/zk-server/provider.js';
export { ZooKeeperNotFoundError } from './shared/zk-server/errors.js';
export { findLocalInstall, type LocalInstall } from './shared/zk-server/find-install.js';
export { freePort, freePorts } from './shared/zk-server/free-port.js';
export { fourLetter, srvrMode, type ZkMode } from './shared/zk-server/four-letter.js';
export type { RestartOptions } from './shared/zk-server/local-server.js';
