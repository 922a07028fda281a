// What every drover command shares to parse its arguments: the global options, the checks
// that make a bad argument a usage error, and turning any error into one line that names the
// problem plus a meaningful exit code (never a stack). Light on purpose: every drover process
// loads it before parsing; what a command needs to run (the client) loads when it runs.
import type { Argv } from 'yargs';
import type { DroverClient } from '../client/drover-client.js';
import { readFileSync } from 'node:fs';
import { AuthFailedError, ConnectionLossError, NoAuthError, SessionExpiredError, UnsupportedServerError, ZkError } from '../shared/zk/errors.js';
import type { ZkAuth } from '../shared/zk/session-types.js';
import { parseZkAuth } from '../shared/zk/acl-spec.js';
import { TaskValidationError } from '../shared/protocol/task-record.js';
import { assertRoot, assertTaskId, assertWorkerId, InvalidIdError } from '../shared/protocol/paths.js';
import { InvalidConnectStringError, parseConnectString } from '../shared/zk/connect-string.js';
import { TaskNotFoundError } from '../client/wait-errors.js';
import { DEFAULT_SESSION_TIMEOUT_MS } from '../shared/zk/session-types.js';
import { DEFAULT_ROOT } from '../shared/defaults.js';
import { LOG_FORMATS, type LogFormat } from '../shared/log-formats.js';
import type { Logger } from '../shared/log.js';
import { UsageError } from './usage-error.js';
import { durationOption } from './durations.js';
import { EXIT, type ExitCode } from './exit-codes.js';

export interface GlobalArgs {
  zk: string;
  root: string;
  json: boolean;
  connectTimeout: number;
  sessionTimeout: number;
  zkAuth?: string;
  zkAuthFile?: string;
}

export function globalOptions<T>(y: Argv<T>): Argv<T & GlobalArgs> {
  return y
    .option('zk', {
      type: 'string',
      describe: 'ZooKeeper connect string (host:port,...)',
      // $DROVER_ZK arrives as every DROVER_<OPTION> does (cli/config-file.ts), over the file.
      default: '127.0.0.1:2181',
      defaultDescription: '$DROVER_ZK, else the config file\'s "zk", else 127.0.0.1:2181',
    })
    .option('root', { type: 'string', describe: 'root znode of the cluster', default: DEFAULT_ROOT })
    .option('json', { type: 'boolean', describe: 'machine-readable output', default: false })
    .option('connect-timeout', durationOption('connect-timeout', 'how long to wait for ZooKeeper (at start, and to come back once a waiting command lost its session)', 5000))
    .option('session-timeout', durationOption('session-timeout', 'ZooKeeper session timeout', DEFAULT_SESSION_TIMEOUT_MS))
    .option('zk-auth', { type: 'string', describe: 'ZooKeeper identity SCHEME:CREDENTIALS (digest:USER:PASSWORD); prefer $DROVER_ZK_AUTH or --zk-auth-file (out of ps)' })
    .option('zk-auth-file', { type: 'string', describe: 'file holding the --zk-auth value on one line' })
    .check((a) => checkZk(a.zk) && checkRoot(a.root) && checkInts(a, { 'connect-timeout': [1, 3_600_000], 'session-timeout': [100, 3_600_000] }) && checkZkAuth(a as ZkAuthArgs)) as unknown as Argv<T & GlobalArgs>;
}

type ZkAuthArgs = { zkAuth?: unknown; zkAuthFile?: unknown };

function checkZkAuth(argv: ZkAuthArgs): true {
  zkAuthOf(argv);
  return true;
}

/**
 * The identity --zk-auth or --zk-auth-file give (the file's one line), none: anonymous. A bad
 * form is a UsageError (exit 2, before connecting) that never repeats the secret.
 */
export function zkAuthOf(argv: ZkAuthArgs): ZkAuth[] | undefined {
  const given = zkAuthText(argv);
  if (!given) return undefined;
  try {
    return [parseZkAuth(given.text)]; // not trimmed: a password may begin or end with a space
  } catch (err) {
    throw new UsageError(`${given.from}: ${(err as Error).message}`);
  }
}

/** The text of the identity and the option it came from; undefined: none given. */
function zkAuthText(argv: ZkAuthArgs): { text: string; from: string } | undefined {
  const { zkAuth, zkAuthFile } = argv;
  if (zkAuth !== undefined && zkAuthFile !== undefined) throw new UsageError('--zk-auth and --zk-auth-file: give one of them');
  let text: string;
  let from: string;
  if (zkAuthFile !== undefined) {
    from = `--zk-auth-file ${String(zkAuthFile)}`;
    try {
      text = readFileSync(String(zkAuthFile), 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`${from}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (/[\r\n]/.test(text)) throw new UsageError(`${from}: must hold SCHEME:CREDENTIALS on one line`);
  } else if (zkAuth !== undefined) {
    from = '--zk-auth';
    text = String(zkAuth);
  } else return undefined;
  return { text, from };
}

/**
 * A yargs check: --zk parses as a connect string. The client library would take a bad port
 * to a socket that throws out of its callback (a stack, not a message), so it is refused here.
 */
export function checkZk(zk: unknown): true {
  try {
    parseConnectString(zk);
  } catch (err) {
    if (err instanceof InvalidConnectStringError) throw new UsageError(`--zk: ${err.message}`);
    throw err;
  }
  return true;
}

// Bad arguments (usage-error.ts) and durations as people type them (durations.ts), for every command.
export { UsageError } from './usage-error.js';
export { durationOption, formatDuration, parseDuration, parseSince } from './durations.js';

/**
 * A yargs check: each named option, when given, is an integer in its range. Runs before the
 * command, so a bad number is a usage error (exit 2), not a connection attempt.
 */
export function checkInts(argv: Record<string, unknown>, ranges: Record<string, [number, number]>): true {
  for (const [name, [min, max]] of Object.entries(ranges)) {
    const v = argv[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new UsageError(`--${name} must be an integer in ${min}..${max}, got ${String(v)}`);
    }
  }
  return true;
}

/**
 * A yargs check: --root is a ZooKeeper path (the server would refuse `/a//b` only after we
 * connected, and in its own words).
 */
export function checkRoot(root: unknown): true {
  try {
    assertRoot(root);
  } catch {
    throw new UsageError(`--root must be a ZooKeeper path such as /drover (no empty, . or .. segments, no trailing /), got ${JSON.stringify(root)}`);
  }
  return true;
}

/** A yargs check: a task id argument could name a task (`get ''` would read a directory). */
export function checkTaskId(id: unknown): true {
  try {
    assertTaskId(id);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return true;
}

/** A yargs check: --id names a valid member (worker or master) id. */
export function checkMemberId(id: unknown): true {
  try {
    assertWorkerId(id);
  } catch (err) {
    throw new UsageError(`--id: ${(err as Error).message}`);
  }
  return true;
}

/**
 * `readOnly`: a command that only reads or changes existing tasks; it never creates a cluster's
 * layout. The client (with the session and node-zookeeper-client) loads here, once a command runs.
 */
export async function withClient<T>(argv: GlobalArgs, fn: (c: DroverClient) => Promise<T>, opts: { readOnly?: boolean } = {}): Promise<T> {
  const { DroverClient } = await import('../client/drover-client.js');
  const client = await DroverClient.connect({
    connectString: argv.zk,
    auth: zkAuthOf(argv),
    root: argv.root,
    createLayout: !opts.readOnly,
    connectTimeoutMs: argv.connectTimeout,
    reconnectTimeoutMs: argv.connectTimeout,
    sessionTimeoutMs: argv.sessionTimeout,
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/**
 * Rejects with the AuthFailedError of the first of `sessions` the server refuses mid-run (it is
 * closed then): a long-running command races it, and exits 1 with its line, not idle forever.
 */
export function authFailure(...sessions: Array<{ whenAuthFailed: Promise<AuthFailedError> } | undefined>): Promise<never> {
  return Promise.race(sessions.filter((s) => s !== undefined).map((s) => s.whenAuthFailed)).then((err) => {
    throw err;
  });
}

/** One line for stderr and the exit code, for any error a command can meet. */
export function describeError(err: unknown): { line: string; code: ExitCode } {
  if (err instanceof TaskNotFoundError) return { line: err.message, code: EXIT.notFound };
  if (err instanceof InvalidConnectStringError) return { line: err.message, code: EXIT.usage };
  if (err instanceof TaskValidationError || err instanceof InvalidIdError) return { line: err.message, code: EXIT.error };
  if (err instanceof ConnectionLossError || err instanceof SessionExpiredError) {
    return { line: `ZooKeeper unavailable: ${err.message}`, code: EXIT.unavailable };
  }
  if (err instanceof UnsupportedServerError) return { line: err.message, code: EXIT.error };
  // Already one line naming the permission, the node and the identity (shared/zk/auth-errors.ts).
  if (err instanceof NoAuthError || err instanceof AuthFailedError) return { line: err.message, code: EXIT.error };
  if (err instanceof ZkError) return { line: `ZooKeeper refused: ${err.message}`, code: EXIT.error };
  if (err instanceof Error) return { line: err.message.split('\n')[0]!, code: EXIT.error };
  return { line: String(err), code: EXIT.error };
}

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v) + '\n');
}

/** Parses k=v,k2=v2. */
export function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const part of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`bad label "${part}": use key=value`);
    out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export interface ServeArgs {
  logFormat?: LogFormat;
  logLevel: string;
  http?: number;
  httpHost: string;
}

/** Options of the long-running commands (master, worker): their logs and their HTTP port. */
export function serveOptions<T>(y: Argv<T>, httpWhat: string): Argv<T & ServeArgs> {
  return y
    .option('log-format', { choices: LOG_FORMATS, describe: 'log lines as JSON objects or as one readable line each', defaultDescription: 'pretty on a terminal, json otherwise (json with --json)' })
    .option('log-level', { type: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], describe: 'least severe log level printed', default: 'info', defaultDescription: '$DROVER_LOG_LEVEL, else the config file, else info' })
    .option('http', { type: 'number', describe: `serve ${httpWhat} on this port (0: any free port; the port is logged)` })
    .option('http-host', { type: 'string', describe: 'address the HTTP port binds to', default: '127.0.0.1' })
    .check((a) => checkInts(a, { http: [0, 65535] })) as unknown as Argv<T & ServeArgs>;
}

/** The process's logger: --log-format wins; --json alone means JSON logs even on a terminal. */
export async function loggerFor(argv: ServeArgs & { json?: boolean }): Promise<Logger> {
  const { createLogger } = await import('../shared/log.js');
  return createLogger({ level: argv.logLevel, format: argv.logFormat ?? (argv.json ? 'json' : undefined) });
}
