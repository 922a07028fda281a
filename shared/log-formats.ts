// The log formats a process may choose (--log-format), apart from pino: a CLI parsing its
// options names them without loading the logger.
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];
