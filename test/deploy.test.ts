// The deployment files (docker-compose.yml, Dockerfile, .env.example, .dockerignore) checked
// against the CLI, without a Docker engine (none on our machines): the compose file parses,
// every drover service's command parses with the CLI's own yargs builders under the
// environment its container gets, the connect strings name the ensemble's servers and client
// ports, published and health-checked ports are the --http ones, and the image's
// ENTRYPOINT + CMD runs `drover --help` under plain Node.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseConnectString } from '../shared/zk/connect-string.js';
import { parseDuration } from '../cli/common.js';
import { guardChild } from '../shared/zk-server/orphan-guard.js';
import { DEFAULT_SESSION_TIMEOUT_MS } from '../shared/defaults.js';
import {
  environmentOf,
  envFilesOf,
  execForm,
  parseDrover,
  parseEnvLines,
  publishedPort,
  read,
  readCompose,
  readDockerfile,
  REPO,
  type Service,
} from './harness/deploy-files.js';

const { services } = readCompose();
const zkNames = Object.keys(services).filter((n) => services[n]!.image?.startsWith('zookeeper:'));
const droverNames = Object.keys(services).filter((n) => services[n]!.build !== undefined);
const stages = readDockerfile();
const final = stages.at(-1)!;
const entrypoint = execForm(final.find((i) => i.op === 'ENTRYPOINT'));
const cmd = execForm(final.find((i) => i.op === 'CMD'));
const exampleEnv = parseEnvLines(read('.env.example').split('\n'));

/** The environment a drover container gets: its env files (.env as .env.example says) under its `environment:`. */
function containerEnv(s: Service): Record<string, string> {
  const fromFiles = envFilesOf(s).map((f) => (f.replace(/^\.\//, '') === '.env' ? exampleEnv : parseEnvLines(read(f).split('\n'))));
  return Object.assign({}, ...fromFiles, environmentOf(s));
}

/**
 * A service's command as the CLI parses it (the image's ENTRYPOINT is `node bin/drover.js`);
 * `zk` is the connect string it uses: --zk, else the container's DROVER_ZK (a flag wins over
 * the environment, which wins over the default).
 */
function argvOf(name: string): Record<string, unknown> {
  const s = services[name]!;
  expect(Array.isArray(s.command), `${name}: command in exec form (a list)`).toBe(true);
  const command = s.command as string[];
  const argv = parseDrover(command);
  const env = containerEnv(s);
  if (!command.some((a) => a === '--zk' || a.startsWith('--zk=')) && env.DROVER_ZK) return { ...argv, zk: parseDrover([command[0]!, '--zk', env.DROVER_ZK]).zk };
  return argv;
}

/** ZOO_SERVERS (`server.N=host:peer:election;clientPort ...`) as host → { id, clientPort }. */
function ensembleOf(zkService: Service): Map<string, { id: number; clientPort: number }> {
  const out = new Map<string, { id: number; clientPort: number }>();
  for (const entry of (environmentOf(zkService).ZOO_SERVERS ?? '').split(/\s+/).filter(Boolean)) {
    const m = /^server\.(\d+)=([A-Za-z0-9_.-]+):\d+:\d+(?::participant)?;(?:[^:;]+:)?(\d+)$/.exec(entry);
    if (!m) throw new Error(`ZOO_SERVERS entry not understood: ${entry}`);
    out.set(m[2]!, { id: Number(m[1]), clientPort: Number(m[3]) });
  }
  return out;
}

/** The port a `node -e "fetch('http://127.0.0.1:PORT/healthz')..."` health check asks. */
function healthPort(s: Service): number | undefined {
  const m = /http:\/\/127\.0\.0\.1:(\d+)\/healthz/.exec(JSON.stringify(s.healthcheck?.test ?? ''));
  return m ? Number(m[1]) : undefined;
}

describe('docker-compose.yml', () => {
  it('is a 3-server ZooKeeper ensemble of the official image, each server health-checked and knowing its own id', () => {
    expect(zkNames).toHaveLength(3);
    const ensemble = ensembleOf(services[zkNames[0]!]!);
    expect([...ensemble.keys()].sort()).toEqual([...zkNames].sort());
    for (const name of zkNames) {
      const s = services[name]!;
      expect(s.image).toBe('zookeeper:3.8');
      expect(s.healthcheck?.test).toEqual(['CMD', 'zkServer.sh', 'status']);
      expect(ensembleOf(s)).toEqual(ensemble); // one ensemble, the same on every server
      expect(s.hostname ?? name).toBe(name);
      expect(Number(environmentOf(s).ZOO_MY_ID)).toBe(ensemble.get(name)!.id);
    }
    expect(new Set([...ensemble.values()].map((v) => v.id)).size).toBe(3);
  });

  it('runs two masters and three workers from the Dockerfile, each command accepted by the CLI, with distinct ids', () => {
    const byRole = (role: string) => droverNames.filter((n) => !services[n]!.profiles && (services[n]!.command as string[])[0] === role);
    expect(byRole('master')).toHaveLength(2);
    expect(byRole('worker')).toHaveLength(3);
    const ids = [...byRole('master'), ...byRole('worker')].map((n) => argvOf(n).id);
    expect(new Set(ids).size).toBe(5);
    for (const name of droverNames) {
      expect(services[name]!.build).toBe('.');
      argvOf(name); // throws on an unknown flag, a bad value or a failed check
    }
  });

  it('the CLI parse it relies on is strict (a wrong flag or value in a command would be caught)', () => {
    expect(() => parseDrover(['master', '--htpp', '8080'])).toThrow(/htpp/);
    expect(() => parseDrover(['worker', '--http', '70000'])).toThrow(/http/);
    expect(() => parseDrover(['master', '--zk', 'zk1:notaport'])).toThrow(/--zk/);
  });

  it("every drover service's connect string names the ensemble's servers at their client ports, and waits for them healthy", () => {
    const ensemble = ensembleOf(services[zkNames[0]!]!);
    const expected = [...ensemble].map(([host, v]) => `${host}:${v.clientPort}`).sort();
    const tickMs = Number(environmentOf(services[zkNames[0]!]!).ZOO_TICK_TIME ?? 2000);
    for (const name of droverNames) {
      const argv = argvOf(name);
      const cs = parseConnectString(argv.zk);
      expect(cs.servers.map((s) => `${s.host}:${s.port}`).sort(), name).toEqual(expected);
      expect(cs.chroot).toBe('');
      // The environment's DROVER_ZK (for `docker compose run`, which replaces the command) agrees.
      expect(containerEnv(services[name]!).DROVER_ZK, name).toBe(argv.zk);
      for (const zk of zkNames) expect(services[name]!.depends_on?.[zk]?.condition, `${name} → ${zk}`).toBe('service_healthy');
      // The session timeout asked for is one the servers grant unchanged ([2, 20] × tickTime).
      expect(argv.sessionTimeout).toBeGreaterThanOrEqual(2 * tickMs);
      expect(argv.sessionTimeout).toBeLessThanOrEqual(20 * tickMs);
    }
    expect(argvOf(droverNames[0]!).sessionTimeout).toBe(DEFAULT_SESSION_TIMEOUT_MS);
  });

  it('publishes each master\'s dashboard port (its --http, bound to 0.0.0.0) and health-checks every --http port', () => {
    const hostPorts: number[] = [];
    for (const name of droverNames) {
      const s = services[name]!;
      const argv = argvOf(name);
      if (argv._ && (argv._ as string[])[0] === 'master') {
        expect(s.ports, `${name} publishes its dashboard`).toHaveLength(1);
        expect(argv.http).toBeTypeOf('number');
      }
      if (argv.http !== undefined) {
        // 127.0.0.1 inside a container is unreachable from outside it (and the Host guard
        // only applies when bound to loopback).
        expect(argv.httpHost, name).toBe('0.0.0.0');
        expect(healthPort(s), `${name}: health check asks the --http port`).toBe(argv.http);
      }
      for (const p of s.ports ?? []) {
        const { host, container } = publishedPort(p);
        expect(container, `${name}: published port is the --http one`).toBe(argv.http);
        hostPorts.push(host);
      }
    }
    expect(hostPorts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('gives workers longer to stop than their drain grace', () => {
    for (const name of droverNames.filter((n) => (services[n]!.command as string[])[0] === 'worker')) {
      const grace = argvOf(name).grace as number;
      expect(parseDuration(services[name]!.stop_grace_period, 'stop_grace_period'), name).toBeGreaterThan(grace);
    }
  });

  it('wires DROVER_ZK_AUTH (digest:user:password) from .env into every drover container, and keeps .env out of the image', () => {
    expect(exampleEnv.DROVER_ZK_AUTH).toMatch(/^digest:[^:\s]+:\S+$/);
    for (const name of droverNames) {
      expect(envFilesOf(services[name]!), name).toContain('.env');
      expect(containerEnv(services[name]!).DROVER_ZK_AUTH).toBe(exampleEnv.DROVER_ZK_AUTH);
    }
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.drover', '.env']) expect(ignored).toContain(p);
  });
});

describe('Dockerfile', () => {
  it('builds on node:20-slim with npm ci and the build, and runs as a non-root user', () => {
    for (const stage of stages) expect(stage[0]!.args.split(/\s+/)[0]).toBe('node:20-slim');
    const runs = stages.flat().filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true);
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user!.split(':')[0]);
    expect(final.find((i) => i.op === 'WORKDIR')?.args).toBe('/app');
  });

  it('its ENTRYPOINT + CMD runs `drover --help` under plain Node', async () => {
    expect(entrypoint).toEqual(['node', 'bin/drover.js']);
    // WORKDIR /app holds the repository's bin/ and dist/: the repository root stands in for it.
    const r = await runImage([...entrypoint, ...cmd]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^drover <command>/);
    for (const c of ['master', 'worker', 'submit', 'status']) expect(r.stdout).toContain(`drover ${c}`);
  });

  it("a compose service's command after the ENTRYPOINT reaches that command of the built CLI", async () => {
    const r = await runImage([...entrypoint, ...(services[droverNames.find((n) => n.startsWith('master'))!]!.command as string[]), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^drover master/);
    expect(r.stdout).toContain('--http-host');
  });
});

/** Runs argv (argv[0] `node`: this very Node) in the repository root; killed by pid past 20 s. */
function runImage(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  expect(argv[0]).toBe('node');
  const child = spawn(process.execPath, argv.slice(1), { cwd: REPO, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) guardChild(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
