// A worker's options, checked at construction: a bad one is a WorkerOptionError naming the
// field and the value, before anything connects.
import { DEFAULT_ROOT, DEFAULT_SESSION_TIMEOUT_MS } from '../shared/defaults.js';
import type { Logger } from '../shared/log.js';
import { Paths, assertWorkerId } from '../shared/protocol/paths.js';
import { checkLimits, type SizeLimits } from '../shared/protocol/task-record.js';
import type { ZkAuth, ZkSession } from '../shared/zk/session.js';
import type { Registry } from '../shared/metrics/registry.js';
import { builtinHandlers, type HandlerMap } from './handlers.js';
import { sandboxConfig, type SandboxConfig, type SandboxOptions } from './sandbox/config.js';

export type { SandboxOptions } from './sandbox/config.js';

export interface WorkerOptions {
  /** ZooKeeper host:port list; needed unless `session` is given. */
  connectString?: string;
  /** ZooKeeper identities for the session it opens (ignored when `session` is given). */
  auth?: readonly ZkAuth[];
  /** A session to share; the worker never closes it. */
  session?: ZkSession;
  /** drover root znode. Default '/drover' (DEFAULT_ROOT). */
  root?: string;
  /** Worker id (the member name adds the session as incarnation). */
  id: string;
  /** Attempts run at once; advertised as the member's capacity. Default 4. */
  concurrency?: number;
  /** Merged over the built-ins (echo, sleep, fail). */
  handlers?: HandlerMap;
  /**
   * Runs the handlers of a module outside the worker's event loop (worker threads or child
   * processes, at most `concurrency`, reused). Its types are learnt at start() and win over
   * `handlers` and the built-ins, which still run in the worker's thread.
   */
  sandbox?: SandboxOptions;
  labels?: Record<string, string>;
  /** How long stop() waits for running attempts before aborting them. Default 30000. */
  gracePeriodMs?: number;
  /** For a session the worker opens. Default 6000 (DEFAULT_SESSION_TIMEOUT_MS). */
  sessionTimeoutMs?: number;
  limits?: Partial<SizeLimits>;
  log?: Logger;
  /** Where this worker's drover_* metrics go; none when absent. */
  metrics?: Registry;
}

export class WorkerOptionError extends Error {
  override name = 'WorkerOptionError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    why: string,
  ) {
    super(`invalid worker option ${field} = ${JSON.stringify(value)}: ${why}`);
  }
}

export interface WorkerConfig {
  id: string;
  root: string;
  connectString?: string;
  auth?: readonly ZkAuth[];
  concurrency: number;
  gracePeriodMs: number;
  sessionTimeoutMs: number;
  handlers: HandlerMap;
  sandbox?: SandboxConfig;
  labels: Record<string, string>;
  limits: SizeLimits;
}

function intOption(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new WorkerOptionError(field, v, `must be an integer in ${min}..${max}`);
  }
  return v;
}

export function workerConfig(opts: WorkerOptions): WorkerConfig {
  if (opts === null || typeof opts !== 'object') throw new WorkerOptionError('options', opts, 'must be an object');
  try {
    assertWorkerId(opts.id);
  } catch (err) {
    throw new WorkerOptionError('id', opts.id, (err as Error).message);
  }
  const root = opts.root ?? DEFAULT_ROOT;
  try {
    new Paths(root);
  } catch (err) {
    throw new WorkerOptionError('root', opts.root, (err as Error).message);
  }
  if (!opts.session && (typeof opts.connectString !== 'string' || opts.connectString === '')) {
    throw new WorkerOptionError('connectString', opts.connectString, 'give a connect string (host:port) or a session');
  }
  const concurrency = intOption('concurrency', opts.concurrency ?? 4, 1, 1000);
  const gracePeriodMs = intOption('gracePeriodMs', opts.gracePeriodMs ?? 30_000, 0, 86_400_000);
  const sessionTimeoutMs = intOption('sessionTimeoutMs', opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS, 100, 600_000);
  for (const [type, fn] of Object.entries(opts.handlers ?? {})) {
    if (typeof fn !== 'function') throw new WorkerOptionError(`handlers.${type}`, typeof fn, 'must be a function');
  }
  const sandbox = opts.sandbox === undefined ? undefined : sandboxConfig(opts.sandbox, (field, value, why) => {
    throw new WorkerOptionError(field, value, why);
  });
  const labels = opts.labels ?? {};
  if (typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
    throw new WorkerOptionError('labels', labels, 'must be an object of string values');
  }
  let limits: SizeLimits;
  try {
    limits = checkLimits(opts.limits);
  } catch (err) {
    throw new WorkerOptionError('limits', opts.limits, (err as Error).message);
  }
  return {
    id: opts.id,
    root,
    connectString: opts.connectString,
    auth: opts.auth,
    concurrency,
    gracePeriodMs,
    sessionTimeoutMs,
    handlers: { ...builtinHandlers, ...opts.handlers },
    ...(sandbox ? { sandbox: { ...sandbox, maxResultBytes: limits.maxResultBytes } } : {}),
    labels: { ...labels },
    limits,
  };
}
