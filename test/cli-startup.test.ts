// A drover process loads only what its command needs to parse its arguments: the client (and
// with it the ZooKeeper session), the master, the worker and cli-progress load in the handler
// that uses them. A static import of one of them into a command module or cli/common.ts (every
// command's builder runs at start, cli/config-file.ts) shows here. Modules seen by a loader hook.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './harness/cli-run.js';
import { tempDir } from './harness/temp.js';
import { EXIT } from '../cli/exit-codes.js';

/** Runs `drover args...` with a hook recording every module it loads (ESM; CommonJS via require.cache at exit). */
async function loaded(args: string[]): Promise<{ code: number | null; modules: string[] }> {
  const dir = tempDir('drover-startup-');
  const log = join(dir, 'modules.txt');
  writeFileSync(join(dir, 'hook.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`);
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register, createRequire } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nregister('./hook.mjs', import.meta.url);\nconst req = createRequire(import.meta.url);\nprocess.on('exit', () => appendFileSync(${JSON.stringify(log)}, Object.keys(req.cache).join('\\n') + '\\n'));\n`,
  );
  const r = await runCli(args, { env: { NODE_OPTIONS: `--import ${join(dir, 'register.mjs')}` } });
  return { code: r.code, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const RUN_ONLY = [
  /\/dist\/client\/drover-client\.js$/,
  /\/dist\/master\//,
  /\/dist\/worker\//,
  /\/dist\/client\/task-feed\.js$/,
  /\/dist\/shared\/zk\/session\.js$/,
  /\/node_modules\/(cli-progress|node-zookeeper-client|pino|pino-pretty|prom-client)\//,
];

describe('drover start-up', () => {
  it('--version and a usage error load neither the client, the ZooKeeper session and library, the logger, the master, the worker nor cli-progress', async () => {
    // A usage error of yargs' own (get without its id), and ones the commands' checks raise: init's
    // root check, and a bad identity (the global --zk-auth check every command runs).
    const cases = [
      [['--version'], EXIT.ok],
      [['get'], EXIT.usage],
      [['init', '--root', '/zookeeper'], EXIT.usage],
      [['status', '--zk-auth', 'digest:bad'], EXIT.usage],
    ] as const;
    for (const [args, code] of cases) {
      const r = await loaded([...args]);
      expect(r.code).toBe(code);
      expect(r.modules.some((m) => m.endsWith('/dist/cli/main.js'))).toBe(true); // the hook saw the CLI load
      expect(r.modules.filter((m) => RUN_ONLY.some((re) => re.test(m)))).toEqual([]);
    }
  });
});
