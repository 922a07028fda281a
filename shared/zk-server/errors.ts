/** Thrown when no ZooKeeper can be found by any route; the message says how to get one. */
export class ZooKeeperNotFoundError extends Error {
  constructor(detail?: string) {
    super(
      [
        'No ZooKeeper server available for drover. Get one in any of these ways:',
        '  1. point at a running server: set DROVER_ZK=host:port (e.g. DROVER_ZK=127.0.0.1:2181);',
        '  2. start a Docker engine (a zookeeper:3.8 container is then started through testcontainers);',
        '  3. install the Debian/Ubuntu package `zookeeper`: apt-get install -y zookeeper',
        '     (or set ZOOKEEPER_HOME to an unpacked Apache ZooKeeper binary release, apache-zookeeper-3.8.x-bin).',
        'A local install needs Java 11+ (`java` on PATH or JAVA_HOME; Debian: apt-get install -y default-jre-headless).',
        'Or run `node scripts/bootstrap.mjs`, which installs the package when run as root on Debian/Ubuntu.',
        ...(detail ? [`Tried: ${detail}`] : []),
      ].join('\n'),
    );
    this.name = 'ZooKeeperNotFoundError';
  }
}
