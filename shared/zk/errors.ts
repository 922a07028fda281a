// Typed ZooKeeper errors. Every failure that leaves the session wrapper is one of these,
// so callers branch on classes (or `code`) instead of the client library's numeric codes.

export type ZkErrorCode =
  | 'NO_NODE'
  | 'NODE_EXISTS'
  | 'BAD_VERSION'
  | 'NOT_EMPTY'
  | 'CONNECTION_LOSS'
  | 'REQUEST_TIMEOUT'
  | 'SESSION_EXPIRED'
  | 'SESSION_CLOSED'
  | 'NO_CHILDREN_FOR_EPHEMERALS'
  | 'UNSUPPORTED_SERVER'
  | 'NO_AUTH'
  | 'AUTH_FAILED'
  | 'INVALID_ACL'
  | 'ZK_ERROR';

export interface ZkErrorDetails {
  op?: string;
  path?: string;
  /** For a failed `multi`: the index of the operation the server refused. */
  opIndex?: number;
  cause?: unknown;
}

export class ZkError extends Error {
  override name = 'ZkError';
  readonly code: ZkErrorCode;
  readonly op?: string;
  readonly path?: string;
  readonly opIndex?: number;

  constructor(code: ZkErrorCode, message: string, details: ZkErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.op = details.op;
    this.path = details.path;
    this.opIndex = details.opIndex;
  }

  /** True when the server may or may not have applied the request (a write must be re-checked). */
  get outcomeUnknown(): boolean {
    return this.code === 'CONNECTION_LOSS' || this.code === 'REQUEST_TIMEOUT';
  }
}

export class NoNodeError extends ZkError {
  override name = 'NoNodeError';
}
/** NO_NODE of `dir` itself (a listing) or of a path directly in it (a create there): `dir` is missing. */
export function isNoNodeOf(err: unknown, dir: string): err is NoNodeError {
  return err instanceof NoNodeError && (err.path === dir || err.path?.slice(0, err.path.lastIndexOf('/')) === dir);
}
export class NodeExistsError extends ZkError {
  override name = 'NodeExistsError';
}
export class BadVersionError extends ZkError {
  override name = 'BadVersionError';
}
export class NotEmptyError extends ZkError {
  override name = 'NotEmptyError';
}
/** The connection dropped while the request was in flight: the session may still live. */
export class ConnectionLossError extends ZkError {
  override name = 'ConnectionLossError';
}
/** No reply within the request deadline (a silent or frozen server): treat like connection loss. */
export class RequestTimeoutError extends ConnectionLossError {
  override name = 'RequestTimeoutError';
}
/** The session is gone, with every ephemeral it owned. */
export class SessionExpiredError extends ZkError {
  override name = 'SessionExpiredError';
}
/** The wrapper was closed by its owner. */
export class SessionClosedError extends ZkError {
  override name = 'SessionClosedError';
}

/**
 * The server does not implement a request drover needs (multiRead, addWatch, removeWatches:
 * ZooKeeper 3.6 or newer). Not a connection loss: never retried, and the session refuses the
 * request at once from then on instead of losing its connection to it again.
 */
export class UnsupportedServerError extends ZkError {
  override name = 'UnsupportedServerError';
}

/**
 * NO_AUTH (-102): the node's ACL does not grant this client the permission the request needs.
 * Never retried (the same identity gets the same answer); the session words its message
 * (permission, node, identity: auth-errors.ts).
 */
export class NoAuthError extends ZkError {
  override name = 'NoAuthError';
  /** What was refused without the node's own name (`CREATE on /drover/tasks for digest:viewer`): one line per kind in a loop's log (auth-backoff.ts). */
  refusal?: string;
}
/** AUTH_FAILED (-115): the server refused the credentials (an unknown scheme); the session closes, never reconnects with them. */
export class AuthFailedError extends ZkError {
  override name = 'AuthFailedError';
}

/** ZooKeeper's UNIMPLEMENTED: the server's answer to an opcode it does not know (then it closes the connection). */
export const UNIMPLEMENTED = -6;

const NUMERIC: Record<number, ZkErrorCode> = {
  [-101]: 'NO_NODE',
  [-110]: 'NODE_EXISTS',
  [-103]: 'BAD_VERSION',
  [-111]: 'NOT_EMPTY',
  [-4]: 'CONNECTION_LOSS',
  [-7]: 'REQUEST_TIMEOUT',
  [-112]: 'SESSION_EXPIRED',
  [-108]: 'NO_CHILDREN_FOR_EPHEMERALS',
  [-102]: 'NO_AUTH',
  [-115]: 'AUTH_FAILED',
  [-114]: 'INVALID_ACL',
};

export function zkError(code: ZkErrorCode, message: string, details: ZkErrorDetails = {}): ZkError {
  switch (code) {
    case 'NO_NODE':
      return new NoNodeError(code, message, details);
    case 'NODE_EXISTS':
      return new NodeExistsError(code, message, details);
    case 'BAD_VERSION':
      return new BadVersionError(code, message, details);
    case 'NOT_EMPTY':
      return new NotEmptyError(code, message, details);
    case 'CONNECTION_LOSS':
      return new ConnectionLossError(code, message, details);
    case 'REQUEST_TIMEOUT':
      return new RequestTimeoutError(code, message, details);
    case 'SESSION_EXPIRED':
      return new SessionExpiredError(code, message, details);
    case 'SESSION_CLOSED':
      return new SessionClosedError(code, message, details);
    case 'UNSUPPORTED_SERVER':
      return new UnsupportedServerError(code, message, details);
    case 'NO_AUTH':
      return new NoAuthError(code, message, details);
    case 'AUTH_FAILED':
      return new AuthFailedError(code, message, details);
    default:
      return new ZkError(code, message, details);
  }
}

/** Maps an error from node-zookeeper-client (an Exception with a numeric `code`) to a typed error. */
export function fromClientError(err: unknown, details: ZkErrorDetails = {}): ZkError {
  if (err instanceof ZkError) return err;
  const numeric = typeof (err as { code?: unknown })?.code === 'number' ? (err as { code: number }).code : undefined;
  const code: ZkErrorCode = (numeric !== undefined && NUMERIC[numeric]) || 'ZK_ERROR';
  const where = [details.op, details.path].filter(Boolean).join(' ');
  const base = err instanceof Error ? err.message : String(err);
  return zkError(code, where ? `${base} (${where})` : base, { ...details, cause: err });
}

export function isZkCode(err: unknown, code: ZkErrorCode): boolean {
  return err instanceof ZkError && err.code === code;
}
