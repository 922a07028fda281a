import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogFormat } from './log-formats.js';

// pino-pretty (a CommonJS module) is loaded only when a pretty logger is made: a CLI command
// that logs JSON, or nothing, does not pay for it at start (~70 ms of a ~0.5 s start).
const require = createRequire(import.meta.url);
const pretty = (opts: PinoPretty.PrettyOptions): PinoPretty.PrettyStream => (require('pino-pretty') as typeof PinoPretty)(opts);

export type { Logger };
export { LOG_FORMATS, type LogFormat } from './log-formats.js';

export interface LoggerOptions {
  level?: string;
  /** 'pretty': one human-readable line per event; 'json': one JSON object per line. Default: pretty when stdout is a terminal. */
  format?: LogFormat;
  base?: Record<string, unknown>;
}

/**
 * The one pino root of a process. Components take `log.child({ component, ... })`.
 * Writes are synchronous so that a process killed with SIGKILL has already written
 * every line it logged (the fault tests read them).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.DROVER_LOG_LEVEL ?? 'info';
  const format: LogFormat = opts.format ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const base = { pid: process.pid, ...opts.base };
  if (format === 'pretty') {
    return pino(
      // pino-pretty prints the fields of `errorKey` (and `errorLikeObjectKeys`) as a block with
      // the stack one frame a line, even with singleLine: name a key nothing logs, so `err`
      // stays a field of the one line.
      { level, base, errorKey: PRETTY_ERROR_KEY, formatters: { log: errorAsField } },
      // singleLine: an event is one line a person can scan, not a block of 18.
      pretty({
        sync: true,
        colorize: Boolean(process.stdout.isTTY),
        singleLine: true,
        translateTime: 'HH:MM:ss.l',
        ignore: 'pid,hostname',
        errorLikeObjectKeys: [],
        customPrettifiers: { err: oneLineError },
      }),
    );
  }
  return pino({ level, base }, pino.destination({ dest: 1, sync: true }));
}

const PRETTY_ERROR_KEY = 'errorObject';

/**
 * Pretty only: an error as `<Type: >message [kind] at <first frame>` (where it was thrown), so
 * its event stays one line; the JSON format keeps `err.stack` whole (as does the task record).
 */
function oneLineError(v: unknown): string {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return typeof v === 'string' ? v : JSON.stringify(v);
  const { type, message, kind, stack } = v as Record<string, unknown>;
  const at = typeof stack === 'string' ? /\n\s*(at .*)/.exec(stack)?.[1] : undefined;
  const head = typeof type === 'string' && type !== 'Object' && type !== 'Error' ? `${type}: ` : '';
  return `${head}${String(message)}${typeof kind === 'string' ? ` [${kind}]` : ''}${at ? ` ${at}` : ''}`;
}

/** Pretty only: an Error logged as the whole object (`log.error(err)`) becomes the `err` field. */
function errorAsField(o: Record<string, unknown>): Record<string, unknown> {
  if (!(PRETTY_ERROR_KEY in o)) return o;
  const { [PRETTY_ERROR_KEY]: err, ...rest } = o;
  return { ...rest, err };
}

/** A logger that discards everything: the default for library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
