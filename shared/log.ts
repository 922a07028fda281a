import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines; default: when stdout is a terminal. */
  pretty?: boolean;
  base?: Record<string, unknown>;
}

/**
 * The one pino root of a process. Components take `log.child({ component, ... })`.
 * Writes are synchronous so that a process killed with SIGKILL has already written
 * every line it logged (the fault tests read them).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.DROVER_LOG_LEVEL ?? 'info';
  const wantPretty = opts.pretty ?? Boolean(process.stdout.isTTY);
  const base = { pid: process.pid, ...opts.base };
  if (wantPretty) {
    return pino(
      { level, base },
      pretty({ sync: true, colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  return pino({ level, base }, pino.destination({ dest: 1, sync: true }));
}

/** A logger that discards everything: the default for library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
