// Public entry of the ZooKeeper launcher: finds or starts a real ZooKeeper for tests,
// the demo and the benchmark. Each concern lives in its own file; this one re-exports.
export { ZooKeeperNotFoundError } from './errors.js';
export { findLocalInstall, findJava, findZkCli, type LocalInstall } from './find-install.js';
export { freePort, freePorts } from './free-port.js';
export { guardChild } from './orphan-guard.js';
export { fourLetter, srvrMode, type ZkMode } from './four-letter.js';
export {
  startLocalServer,
  DEFAULT_JVM_ARGS,
  type LocalZkServer,
  type RestartOptions,
  type StartLocalServerOptions,
} from './local-server.js';
export { ZK_SIZES, jvmArgsFor, resolveSizing, type GcKind, type ZkSizing, type ZkSizeName } from './sizing.js';
export { startEnsemble, type StartEnsembleOptions, type ZkEnsemble } from './ensemble.js';
export { provideZooKeeper, type ProvideOptions, type ZkProvision } from './provider.js';
