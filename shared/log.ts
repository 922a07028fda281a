import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

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
      { level, base },
      // singleLine: an event is one line a person can scan, not a block of 18.
      pretty({ sync: true, colorize: Boolean(process.stdout.isTTY), singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  return pino({ level, base }, pino.destination({ dest: 1, sync: true }));
}

/** A logger that discards everything: the default for library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
