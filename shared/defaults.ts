// The defaults every entry point shares: the master, the worker, the client and the CLI's
// options take them from here, so a default is written once.
export { DEFAULT_SESSION_TIMEOUT_MS } from './zk/session-types.js';

/** The root znode of a cluster when none is given. */
export const DEFAULT_ROOT = '/drover';
