import fs from 'node:fs';
import path from 'node:path';

export interface LocalInstall {
  /** Java classpath (path.delimiter-separated) that runs QuorumPeerMain. */
  classpath: string;
  /** The java executable to run it with. */
  java: string;
  /** Which rule found it, for logs. */
  source: string;
}

type Env = Record<string, string | undefined>;

const DEBIAN_JAR = '/usr/share/java/zookeeper.jar';
// The Debian jar's manifest Class-Path already names its dependencies (jute, netty,
// slf4j-api, ...), so the jar alone runs. slf4j-api alone logs nothing, though: adding
// slf4j-simple (same package family, if present) gives us a server log to show on failure.
const SLF4J_BINDINGS = ['slf4j-simple.jar', 'slf4j-jdk14.jar'];

const isFile = (p: string): boolean => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};

const jarsIn = (dir: string): string[] => {
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.jar'))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
};

function bindingNextTo(jar: string): string[] {
  const dir = path.dirname(jar);
  for (const b of SLF4J_BINDINGS) if (isFile(path.join(dir, b))) return [path.join(dir, b)];
  return [];
}

/** java from JAVA_HOME, else the first `java` on PATH; null when there is none. */
export function findJava(env: Env = process.env): string | null {
  if (env.JAVA_HOME) {
    const j = path.join(env.JAVA_HOME, 'bin', 'java');
    if (isFile(j)) return j;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const j = path.join(dir, 'java');
    try {
      fs.accessSync(j, fs.constants.X_OK);
      if (isFile(j)) return j;
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * Finds a ZooKeeper server install to run as a child process.
 * Order: DROVER_ZK_JAR (a jar, or a full classpath), ZOOKEEPER_HOME (binary release:
 * lib/*.jar + conf/), then the Debian/Ubuntu package jar. DROVER_ZK_LOCAL=none hides
 * every local install (lets a test prove the provider fails loudly). Needs java too.
 */
export function findLocalInstall(env: Env = process.env): LocalInstall | null {
  if (env.DROVER_ZK_LOCAL === 'none') return null;
  const java = findJava(env);
  if (!java) return null;

  if (env.DROVER_ZK_JAR) {
    const parts = env.DROVER_ZK_JAR.split(path.delimiter).filter(Boolean);
    if (parts.length > 0 && parts.every((p) => fs.existsSync(p))) {
      const extra = parts.length === 1 ? bindingNextTo(parts[0]!) : [];
      return { classpath: [...parts, ...extra].join(path.delimiter), java, source: 'DROVER_ZK_JAR' };
    }
  }

  if (env.ZOOKEEPER_HOME) {
    const home = env.ZOOKEEPER_HOME;
    // 3.5+ releases keep every jar in lib/; 3.4 kept zookeeper-x.y.z.jar at the top.
    const jars = [...jarsIn(path.join(home, 'lib')), ...jarsIn(home)];
    if (jars.some((j) => /^zookeeper-\d.*\.jar$/.test(path.basename(j)))) {
      // conf/ first: it holds the release's logback.xml / log4j.properties.
      return { classpath: [path.join(home, 'conf'), ...jars].join(path.delimiter), java, source: 'ZOOKEEPER_HOME' };
    }
  }

  if (isFile(DEBIAN_JAR)) {
    return { classpath: [DEBIAN_JAR, ...bindingNextTo(DEBIAN_JAR)].join(path.delimiter), java, source: DEBIAN_JAR };
  }
  return null;
}

/**
 * The installed server's own CLI (zkCli.sh), found as the server is: ZOOKEEPER_HOME/bin, then
 * the Debian/Ubuntu package's /usr/share/zookeeper/bin. null when there is none.
 */
export function findZkCli(env: Env = process.env): string | null {
  if (env.DROVER_ZK_LOCAL === 'none') return null;
  const candidates = [...(env.ZOOKEEPER_HOME ? [path.join(env.ZOOKEEPER_HOME, 'bin', 'zkCli.sh')] : []), '/usr/share/zookeeper/bin/zkCli.sh'];
  return candidates.find(isFile) ?? null;
}
