#!/usr/bin/env node
// Gets a checkout ready to test, demo or benchmark: npm packages, a ZooKeeper to run
// against, and a build. Plain Node with no npm dependencies: it runs before node_modules
// exists. Each step is skipped when already done, so running it again is cheap.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => console.log(`[drover] ${m}`);
const fail = (m) => {
  console.error(`[drover] ${m}`);
  process.exit(1);
};
const mtime = (p) => {
  try {
    return fs.statSync(p).mtimeMs;
  } catch {
    return -1;
  }
};
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) fail(`${cmd} could not run: ${r.error.message}`);
  return r.status === 0;
};

// (a) npm packages: install when missing or when the lock file changed since.
function ensurePackages() {
  const lock = path.join(root, 'package-lock.json');
  const installed = path.join(root, 'node_modules', '.package-lock.json');
  if (mtime(installed) >= 0 && mtime(lock) <= mtime(installed)) return;
  say('installing npm packages (npm ci)');
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) fail('npm ci failed');
}

// (b) ZooKeeper. Same lookup as findLocalInstall in shared/zk-server/find-install.ts,
// repeated here in a few lines because this script cannot import TypeScript.
const isFile = (p) => mtime(p) >= 0 && fs.statSync(p).isFile();
function findJava() {
  if (process.env.JAVA_HOME && isFile(path.join(process.env.JAVA_HOME, 'bin', 'java'))) return true;
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d && isFile(path.join(d, 'java')));
}
function findZooKeeperJar() {
  const env = process.env;
  if (env.DROVER_ZK_LOCAL === 'none') return null;
  if (env.DROVER_ZK_JAR) {
    const parts = env.DROVER_ZK_JAR.split(path.delimiter).filter(Boolean);
    if (parts.length && parts.every((p) => fs.existsSync(p))) return env.DROVER_ZK_JAR;
  }
  if (env.ZOOKEEPER_HOME) {
    for (const dir of [path.join(env.ZOOKEEPER_HOME, 'lib'), env.ZOOKEEPER_HOME]) {
      let names = [];
      try {
        names = fs.readdirSync(dir);
      } catch {}
      const jar = names.find((n) => /^zookeeper-\d.*\.jar$/.test(n));
      if (jar) return path.join(dir, jar);
    }
  }
  return isFile('/usr/share/java/zookeeper.jar') ? '/usr/share/java/zookeeper.jar' : null;
}
function dockerAnswers() {
  if (process.env.DROVER_ZK_DOCKER === 'none') return false;
  const r = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
  return r.status === 0;
}
const hasCommand = (cmd) =>
  (process.env.PATH ?? '').split(path.delimiter).some((d) => d && isFile(path.join(d, cmd)));

// `--local`: the caller (the test suite, the chaos runner) also starts ZooKeeper servers of
// its own, to kill -9 or SIGSTOP one and to run 3-server ensembles, so it needs a local
// install even when DROVER_ZK or a Docker engine serves the rest.
const needLocal = process.argv.includes('--local');

function ensureZooKeeper() {
  const jar = findZooKeeperJar();
  const java = findJava();
  const local = Boolean(jar && java);
  let served = null;
  if (process.env.DROVER_ZK) served = `DROVER_ZK=${process.env.DROVER_ZK}`;
  else if (dockerAnswers()) served = 'Docker engine answers (a zookeeper:3.8 container through testcontainers)';
  if (served && (local || !needLocal)) {
    say(`ZooKeeper: ${served}` + (local ? `; local install ${jar} for the fault tests` : ''));
    return;
  }
  if (local) return say(`ZooKeeper: local install ${jar}`);

  const why = served
    ? `ZooKeeper: ${served}, but the fault tests start servers of their own (kill -9, SIGSTOP, 3-server ensembles) and need a local install`
    : 'no ZooKeeper found';
  const packages = [...(jar ? [] : ['zookeeper']), ...(java ? [] : ['default-jre-headless'])];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && hasCommand('apt-get') && process.env.DROVER_ZK_LOCAL !== 'none') {
    say(`${why}: installing ${packages.join(' and ')} with apt-get` + (jar ? '' : ' (Debian package `zookeeper`: the ZooKeeper server, needs Java)'));
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!run('apt-get', ['update'], { env })) fail('apt-get update failed');
    if (!run('apt-get', ['install', '-y', ...packages], { env })) fail(`apt-get install -y ${packages.join(' ')} failed`);
    if (findZooKeeperJar() && findJava()) return say('ZooKeeper: installed /usr/share/java/zookeeper.jar');
    fail('apt-get finished but no ZooKeeper jar and java were found');
  }
  fail(
    [
      `${why}. Get one of:`,
      ...(served
        ? []
        : ['  - a running server: export DROVER_ZK=host:port', '  - a Docker engine (docker info must answer)']),
      '  - Debian/Ubuntu, as root: apt-get update && apt-get install -y zookeeper' + (java ? '' : ' default-jre-headless'),
      '  - an Apache ZooKeeper binary release: export ZOOKEEPER_HOME=/path/to/apache-zookeeper-3.8.x-bin',
      '  ZooKeeper needs Java 11+ (java on PATH or JAVA_HOME).',
    ].join('\n'),
  );
}

// (c) Chromium, for the dashboard's browser test (--local only: the demo and the bench do
// not need it): Debian's `chromium` package, driven by playwright-core, which downloads no
// browser. Same paths as test/harness/browser.ts's findChromium.
const CHROMIUM_PATHS = () => [process.env.DROVER_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
function ensureChromium() {
  if (!needLocal) return;
  const found = CHROMIUM_PATHS().find((p) => isFile(p));
  if (found) return say(`Chromium: ${found} (for the dashboard's browser test)`);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && hasCommand('apt-get') && process.env.DROVER_CHROMIUM_INSTALL !== 'none') {
    say('no Chromium found: installing the Debian package `chromium` with apt-get (the dashboard\'s browser test runs it headless)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (!run('apt-get', ['update'], { env })) fail('apt-get update failed');
    if (!run('apt-get', ['install', '-y', 'chromium'], { env })) fail('apt-get install -y chromium failed');
    const now = CHROMIUM_PATHS().find((p) => isFile(p));
    if (now) return say(`Chromium: installed ${now}`);
    fail('apt-get finished but no chromium was found at /usr/bin/chromium');
  }
  fail(
    [
      `no Chromium found (looked at ${CHROMIUM_PATHS().join(', ')}): the dashboard's browser test needs one. Get one of:`,
      '  - Debian, as root: apt-get update && apt-get install -y chromium   (Ubuntu: a chromium that is not a snap)',
      '  - any Chromium or Chrome binary: export DROVER_CHROMIUM=/path/to/chromium',
    ].join('\n'),
  );
}

// (d) Build: when dist/ is missing or any source is newer than the last build's stamp.
const STAMP = path.join(root, 'dist', '.build-stamp');
function newestSource() {
  let newest = Math.max(...['index.ts', 'testing.ts', 'tsconfig.json'].map((f) => mtime(path.join(root, f))));
  const walk = (dir) => {
    let entries = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else if (e.name.endsWith('.ts')) {
        newest = Math.max(newest, mtime(p));
      }
    }
  };
  for (const d of ['shared', 'master', 'worker', 'client', 'cli', 'scripts']) walk(path.join(root, d));
  return newest;
}
function ensureBuild() {
  const stamp = mtime(STAMP);
  if (stamp >= 0 && newestSource() <= stamp) return;
  say('building (tsc -p tsconfig.json)');
  const started = Date.now();
  if (!run('npx', ['tsc', '-p', 'tsconfig.json'])) fail('TypeScript build failed (see errors above)');
  // Stamp time = build start, so a file edited during the build triggers the next one.
  fs.mkdirSync(path.dirname(STAMP), { recursive: true });
  fs.writeFileSync(STAMP, `${new Date(started).toISOString()}\n`);
  fs.utimesSync(STAMP, new Date(started), new Date(started));
  say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

ensurePackages();
ensureZooKeeper();
ensureChromium();
ensureBuild();
