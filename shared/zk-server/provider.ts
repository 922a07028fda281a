import { ZooKeeperNotFoundError } from './errors.js';
import { findLocalInstall } from './find-install.js';
import { startLocalServer, type LocalZkServer } from './local-server.js';
import { dockerJvmFlags, type ZkSizeName, type ZkSizing } from './sizing.js';

type Env = Record<string, string | undefined>;

export interface ProvideOptions {
  /** For the Docker and local routes. Default 200 ms. */
  tickTimeMs?: number;
  /** Default process.env. Reads DROVER_ZK, DROVER_ZK_DOCKER, DROVER_ZK_LOCAL, DROVER_ZK_JAR, ZOOKEEPER_HOME. */
  env?: Env;
  log?: (m: string) => void;
  /** Heap and collector of a server we start (local JVM or Docker; sizing.ts). Default: 'test' for a local JVM, the image's default in Docker. A DROVER_ZK server is sized by whoever runs it. */
  sizing?: ZkSizing | ZkSizeName;
  /** Extra zoo.cfg lines of a local server we start. */
  extraConfig?: Record<string, string | number | boolean>;
}

export interface ZkProvision {
  connectString: string;
  kind: 'env' | 'docker' | 'local';
  /** Stops what was started (no-op for 'env'). */
  stop(): Promise<void>;
  /** Set for kind 'local': lets fault tests pause/kill/restart the server. */
  server?: LocalZkServer;
}

const DOCKER_IMAGE = 'zookeeper:3.8';
// Without an engine the probe rejects in milliseconds; the cap covers a DOCKER_HOST
// that points at something which never answers.
const DOCKER_PROBE_TIMEOUT_MS = 10_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
      timer.unref();
    }),
  ]);
}

async function tryDocker(tickTimeMs: number, sizing: ZkSizing | ZkSizeName | undefined, log: (m: string) => void): Promise<ZkProvision | string> {
  // Loaded lazily: testcontainers is heavy and not needed when DROVER_ZK or no Docker.
  let tc: typeof import('testcontainers');
  try {
    tc = await import('testcontainers');
  } catch (e) {
    return `testcontainers not loadable (${(e as Error).message})`;
  }
  try {
    await withTimeout(tc.getContainerRuntimeClient(), DOCKER_PROBE_TIMEOUT_MS, 'docker probe');
  } catch (e) {
    return `no Docker engine (${(e as Error).message.split('\n')[0]})`;
  }
  log(`starting ${DOCKER_IMAGE} container`);
  let container: Awaited<ReturnType<InstanceType<typeof tc.GenericContainer>['start']>>;
  try {
    container = await new tc.GenericContainer(DOCKER_IMAGE)
    .withEnvironment({
      ZOO_TICK_TIME: String(tickTimeMs),
      ZOO_4LW_COMMANDS_WHITELIST: 'srvr,stat,ruok,mntr,cons,conf,wchs,wchp,dump',
      ZOO_ADMINSERVER_ENABLED: 'false',
      ZOO_MAX_CLIENT_CNXNS: '0',
      // Only when asked: the image's own default heap (1 000 MB) otherwise, as before sizes existed.
      ...(sizing ? { JVMFLAGS: dockerJvmFlags(sizing) } : {}),
    })
    .withExposedPorts(2181)
    .withWaitStrategy(tc.Wait.forListeningPorts())
    .start();
  } catch (e) {
    // An engine that cannot start the container (offline, a pull limit): try the local route.
    return `Docker could not start ${DOCKER_IMAGE} (${(e as Error).message.split('\n')[0]})`;
  }
  const connectString = `${container.getHost()}:${container.getMappedPort(2181)}`;
  return {
    connectString,
    kind: 'docker',
    stop: async () => {
      await container.stop();
    },
  };
}

/**
 * Finds a real ZooKeeper, in this order: DROVER_ZK (a connect string), a Docker engine
 * (zookeeper:3.8 through testcontainers; DROVER_ZK_DOCKER=none skips), a local install
 * started as a child JVM (DROVER_ZK_LOCAL=none skips). Throws ZooKeeperNotFoundError
 * otherwise: callers (tests included) must fail, never skip.
 */
export async function provideZooKeeper(opts: ProvideOptions = {}): Promise<ZkProvision> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const tickTimeMs = opts.tickTimeMs ?? 200;
  const tried: string[] = [];

  const fromEnv = env.DROVER_ZK?.trim();
  if (fromEnv) return { connectString: fromEnv, kind: 'env', stop: async () => {} };
  tried.push('DROVER_ZK unset');

  if (env.DROVER_ZK_DOCKER === 'none') {
    tried.push('Docker disabled by DROVER_ZK_DOCKER=none');
  } else {
    const docker = await tryDocker(tickTimeMs, opts.sizing, log);
    if (typeof docker !== 'string') return docker;
    tried.push(docker);
    log(`${docker}; looking for a local install`);
  }

  const install = findLocalInstall(env);
  if (install) {
    const server = await startLocalServer({ tickTimeMs, install, log, sizing: opts.sizing ?? 'test', extraConfig: opts.extraConfig });
    return { connectString: server.connectString, kind: 'local', stop: () => server.stop(), server };
  }
  tried.push(
    env.DROVER_ZK_LOCAL === 'none'
      ? 'local install hidden by DROVER_ZK_LOCAL=none'
      : 'no local install (DROVER_ZK_JAR, ZOOKEEPER_HOME, /usr/share/java/zookeeper.jar) with java',
  );
  throw new ZooKeeperNotFoundError(tried.join('; '));
}
