// drover as a user gets it: `npm pack`, installed into a fresh project outside this
// repository, imported as 'drover' and 'drover/testing' by scripts run there (child
// processes, so a crash would be seen). Nothing of this checkout's node_modules is used.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './harness/temp.js';
import { zkConnect } from './harness/zk.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function must(cmd: string, args: string[], cwd: string, timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, cwd, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.code}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`);
  return r.stdout;
}

let project: string;
let packed: { files: Array<{ path: string }>; size: number; unpackedSize: number; entryCount: number };

/** Runs a module script inside the fresh project (imports resolve from its node_modules). */
async function inProject(name: string, source: string, args: string[] = [], timeoutMs = 30_000): Promise<Run> {
  const file = path.join(project, name);
  fs.writeFileSync(file, source);
  return run(process.execPath, [file, ...args], project, timeoutMs);
}

function lastJson<T>(r: Run): T {
  const line = r.stdout.trim().split('\n').filter(Boolean).pop();
  if (r.code !== 0 || !line) throw new Error(`script exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(line) as T;
}

beforeAll(async () => {
  const work = tempDir('drover-package-');
  // The package as `npm pack` makes it, from this checkout's sources as they are now: the
  // same package.json (files, exports, bin), README and bin, and a fresh build of dist/.
  const staging = path.join(work, 'staging');
  fs.mkdirSync(staging);
  for (const f of ['package.json', 'README.md', 'bin']) fs.cpSync(path.join(ROOT, f), path.join(staging, f), { recursive: true });
  // A type error elsewhere is the typecheck's business; tsc still emits, and what it emitted is tested.
  await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', path.join(staging, 'dist')], ROOT, 90_000);
  const [info] = JSON.parse(await must('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], staging)) as Array<typeof packed & { filename: string }>;
  packed = info!;
  project = path.join(work, 'project');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'drover-user', private: true, type: 'module' }));
  await must('npm', ['install', path.join(work, info!.filename), '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock'], project, 120_000);
}, 180_000);

describe('the packed package', () => {
  it('ships dist, bin and README, and nothing of the tests', async () => {
    const files = packed.files.map((f) => f.path);
    for (const need of ['package.json', 'README.md', 'bin/drover.js', 'dist/index.js', 'dist/index.d.ts', 'dist/testing.js', 'dist/testing.d.ts', 'dist/cli/main.js']) {
      expect(files).toContain(need);
    }
    // What this checkout itself would pack (its dist/ may hold more: a stamp, the scripts).
    const [own] = JSON.parse(await must('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT)) as Array<typeof packed>;
    for (const list of [files, own!.files.map((f) => f.path)]) {
      const stray = list.filter(
        (f) => /^(test|scripts|patches|node_modules|dist\/test|dist\/scripts)\//.test(f) || /\.build-stamp$|\.tgz$|\.log$/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
      );
      expect(stray).toEqual([]);
    }
    console.log(`[package] ${packed.entryCount} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
  });

  it("from a fresh project, `import { ZkSession } from 'drover'`: a version-0 check on a node at version 1 is refused by the server", async () => {
    const r = await inProject(
      'version-zero.mjs',
      `import { ZkSession } from 'drover';
      const s = await ZkSession.open({ connectString: process.argv[2], sessionTimeoutMs: 2000 });
      const root = '/pkg-v0-' + process.pid + '-' + Date.now();
      await s.mkdirp(root);
      const n = root + '/n';
      await s.create(n, Buffer.from('a'));
      const atZero = await s.multi([{ op: 'check', path: n, version: 0 }]).then(() => 'applied', (e) => e.code);
      await s.setData(n, Buffer.from('b'));
      const refused = {};
      for (const op of [{ op: 'check', path: n, version: 0 }, { op: 'setData', path: n, data: Buffer.from('c'), version: 0 }, { op: 'remove', path: n, version: 0 }]) {
        refused[op.op] = await s.multi([op]).then(() => 'applied', (e) => e.code);
      }
      const after = await s.getData(n).then((r) => ({ data: r.data.toString(), version: r.stat.version }), (e) => ({ data: e.code }));
      console.log(JSON.stringify({ atZero, refused, ...after }));
      await s.close();`,
      [zkConnect()],
    );
    expect(lastJson(r)).toEqual({ atZero: 'applied', refused: { check: 'BAD_VERSION', setData: 'BAD_VERSION', remove: 'BAD_VERSION' }, data: 'b', version: 1 });
  });

  it('a malformed connect string is a typed rejection, and the host process lives on and exits normally', async () => {
    const r = await inProject(
      'bad-connect.mjs',
      `import { ZkSession, Worker, Master, DroverClient, InvalidConnectStringError } from 'drover';
      const out = [];
      const tries = {
        session: (cs) => ZkSession.open({ connectString: cs, connectTimeoutMs: 3000 }),
        worker: async (cs) => new Worker({ id: 'w1', connectString: cs, handlers: {} }).start(),
        master: async (cs) => new Master({ id: 'm1', connectString: cs }).start(),
        client: (cs) => DroverClient.connect({ connectString: cs }),
      };
      for (const cs of ['localhost:99999', 'localhost:23181x']) {
        for (const [what, open] of Object.entries(tries)) {
          const err = await open(cs).then(() => null, (e) => e);
          out.push({ cs, what, typed: err instanceof InvalidConnectStringError, message: String(err && err.message) });
        }
      }
      console.log(JSON.stringify(out));`,
    );
    expect(r.stderr).not.toMatch(/RangeError|ERR_SOCKET_BAD_PORT|\n\s+at /);
    expect(r.code).toBe(0);
    const out = lastJson<Array<{ cs: string; what: string; typed: boolean; message: string }>>(r);
    expect(out).toHaveLength(8);
    for (const o of out) {
      expect(o, `${o.what} ${o.cs}`).toMatchObject({ typed: true });
      expect(o.message).toContain('bad port');
    }
  });

  it("'drover/testing' from a fresh project: a real ZooKeeper for a Worker's handler, stopped by pid with its temp dir", async () => {
    // The steps of the README's example test, without vitest.
    const r = await inProject(
      'handler.mjs',
      `import { DroverClient, Master, Worker } from 'drover';
      import { startZooKeeper } from 'drover/testing';
      const zk = await startZooKeeper();
      try {
        const master = new Master({ connectString: zk.connectString, id: 'master-1', sessionTimeoutMs: 2000 });
        const worker = new Worker({ connectString: zk.connectString, id: 'worker-1', sessionTimeoutMs: 2000, handlers: {
          async resize(payload) { return { width: payload.width / 2 }; },
        } });
        await master.start();
        await worker.start();
        const client = await DroverClient.connect({ connectString: zk.connectString });
        const { id } = await client.submit({ type: 'resize', payload: { width: 512 } });
        const outcome = await client.wait(id, { timeoutMs: 15000 });
        await client.close();
        await worker.stop();
        await master.stop();
        console.log(JSON.stringify({ state: outcome.state, result: outcome.result, pid: zk.pid, dir: zk.dir }));
      } finally {
        await zk.stop();
      }`,
      [],
      60_000,
    );
    const out = lastJson<{ state: string; result: unknown; pid: number; dir: string }>(r);
    expect(out).toMatchObject({ state: 'succeeded', result: { width: 256 } });
    expect(() => process.kill(out.pid, 0)).toThrow(); // the JVM is gone
    expect(fs.existsSync(out.dir)).toBe(false);
  }, 90_000);

  it('the installed bin serves the dashboard page, its script and /metrics (prom-client travels as a dependency)', async () => {
    // A master of the installed package on a fresh root: its page and metrics come from the
    // package alone (no build step, nothing of this checkout).
    const r = await inProject(
      'serve.mjs',
      `import { spawn } from 'node:child_process';
      import { createRequire } from 'node:module';
      const bin = createRequire(import.meta.url).resolve('drover/package.json').replace(/package\\.json$/, 'bin/drover.js');
      const root = '/pkg-dash-' + process.pid;
      const child = spawn(process.execPath, [bin, 'master', '--id', 'pkg-m1', '--zk', process.argv[2], '--root', root, '--http', '0', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let buf = '';
      const url = await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no url logged: ' + buf)), 20000);
        child.stdout.on('data', (d) => {
          buf += d;
          for (const line of buf.split('\\n')) { try { const l = JSON.parse(line); if (l.url) { clearTimeout(t); resolve(l.url); } } catch {} }
        });
      });
      try {
        const get = async (p) => { const res = await fetch(new URL(p, url)); return { code: res.status, type: res.headers.get('content-type'), csp: res.headers.get('content-security-policy'), body: await res.text() }; };
        const page = await get('/'), js = await get('/dashboard.js'), metrics = await get('/metrics');
        console.log(JSON.stringify({ page: { code: page.code, csp: page.csp, hasScript: page.body.includes('/dashboard.js') }, js: { code: js.code, type: js.type, bytes: js.body.length }, metrics: { code: metrics.code, leaderGauge: /^drover_master_leader [01]$/m.test(metrics.body), zkGauge: /^drover_zk_connected 1$/m.test(metrics.body) } }));
      } finally {
        child.kill('SIGKILL');
      }`,
      [zkConnect()],
      40_000,
    );
    const out = lastJson<{ page: { code: number; csp: string | null; hasScript: boolean }; js: { code: number; type: string | null; bytes: number }; metrics: { code: number; leaderGauge: boolean; zkGauge: boolean } }>(r);
    expect(out.page).toMatchObject({ code: 200, hasScript: true });
    expect(out.page.csp).toContain("script-src 'self'");
    expect(out.js.code).toBe(200);
    expect(out.js.type).toMatch(/javascript/);
    expect(out.js.bytes).toBeGreaterThan(1000);
    expect(out.metrics).toEqual({ code: 200, leaderGauge: true, zkGauge: true });
  }, 60_000);

  it('exports every name the README documents', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const imported = (from: string) =>
      [...readme.matchAll(new RegExp(`import \\{([^}]*)\\} from '${from}'`, 'g'))].flatMap((m) => m[1]!.split(',').map((n) => n.trim()))
        .filter((n) => n !== '' && !n.startsWith('type ')); // types are not runtime exports
    // Every error class the README names, plus what it documents in prose.
    const errors = [...readme.matchAll(/\b([A-Z][A-Za-z]+Error)\b/g)].map((m) => m[1]!).filter((n) => !['Error', 'RangeError', 'TypeError'].includes(n));
    const named = ['DroverClient', 'Worker', 'Master', 'ZkSession', 'createLogger', 'TRANSITIONS', 'DEFAULT_SESSION_TIMEOUT_MS'];
    const expectMain = [...new Set([...imported('drover'), ...named])].sort();
    const expectTesting = [...new Set([...imported('drover/testing'), 'startZooKeeper', 'startEnsemble', 'TcpProxy'])].sort();
    expect(errors).toEqual(expect.arrayContaining(['NoClusterError', 'NonRetryableError', 'InvalidConnectStringError']));
    const r = await inProject(
      'exports.mjs',
      `const main = await import('drover');
      const testing = await import('drover/testing');
      const defined = (m) => Object.keys(m).filter((k) => m[k] !== undefined);
      console.log(JSON.stringify({ main: defined(main), testing: defined(testing) }));`,
    );
    const got = lastJson<{ main: string[]; testing: string[] }>(r);
    expect(expectMain.filter((n) => !got.main.includes(n))).toEqual([]);
    expect(expectTesting.filter((n) => !got.testing.includes(n))).toEqual([]);
    // An error the README names is exported by one of the two entries.
    expect([...new Set(errors)].filter((n) => !got.main.includes(n) && !got.testing.includes(n))).toEqual([]);
  });
});
