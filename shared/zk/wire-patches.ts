// Two fixes in the loaded node-zookeeper-client itself (so they reach every install of drover,
// as version-zero-fix.ts does), applied once when this module loads, after library.ts has
// checked the sha256 of the originals:
// - TransactionResponse.prototype.deserialize is replaced by the same loop taught two more
//   item types: getData (4) and getChildren (8), the items of a multiRead reply (opcode 22;
//   wire.ts sends multiRead as a request the reply path takes for a MULTI). A write multi
//   never carries those types, so its replies read exactly as before.
// - Exception.create throws on an error code it does not know (the library knows none past
//   -115): a server reply with such a code (NOWATCHER -121 from removeWatches, THROTTLEDOP,
//   QUOTAEXCEEDED...) was a throw inside the socket handler, i.e. a dropped connection.
//   Wrapped: a known code is the library's Exception as before, an unknown one an Exception
//   with that numeric code (mapped to a ZkError by errors.ts like any other).
// Each is self-tested on load; a failed self-test puts the original back and throws.
import { Exception, jute, mismatch, type JuteRecord } from './library.js';

const RESPONSE_FLAG = Symbol.for('drover.zk.multi-read-response');
const CODES_FLAG = Symbol.for('drover.zk.unknown-error-codes');

export const OP = {
  create: 1,
  delete: 2,
  getData: 4,
  setData: 5,
  getChildren: 8,
  check: 13,
  error: -1,
} as const;

/** One item of a transaction / multiRead reply as the library hands it over. */
export interface MultiItem {
  type: number;
  err?: number;
  path?: string;
  stat?: unknown;
  data?: Buffer;
  children?: string[];
}

type ResponseThis = { results: MultiItem[]; chrootPath?: string };

function readChildren(buffer: Buffer, offset: number): { children: string[]; bytes: number } {
  let at = offset;
  const count = buffer.readInt32BE(at);
  at += 4;
  const children: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = buffer.readInt32BE(at);
    at += 4;
    children.push(buffer.toString('utf8', at, at + len));
    at += len;
  }
  return { children: count < 0 ? [] : children, bytes: at - offset };
}

/** The library's loop over MultiHeader + item, plus getData/getChildren items. */
function deserializeMulti(this: ResponseThis, buffer: Buffer, offset: number): number {
  if (!Buffer.isBuffer(buffer)) throw new Error('buffer must an instance of Node.js Buffer class.');
  if (offset < 0 || offset >= buffer.length) throw new Error('offset: ' + offset + ' is out of buffer range.');
  let read = 0;
  const record = (name: string): JuteRecord => {
    const r = new jute.protocol[name]!();
    r.setChrootPath(this.chrootPath);
    read += r.deserialize(buffer, offset + read);
    return r;
  };
  for (;;) {
    const header = new jute.protocol.MultiHeader!();
    read += header.deserialize(buffer, offset + read);
    if (header.done) break;
    const type = header.type as number;
    switch (type) {
      case OP.create:
        this.results.push({ type, path: record('CreateResponse').path as string });
        break;
      case OP.delete:
      case OP.check:
        this.results.push({ type });
        break;
      case OP.setData:
        this.results.push({ type, stat: record('SetDataResponse').stat });
        break;
      case OP.error:
        this.results.push({ type, err: record('ErrorResponse').err as number });
        break;
      case OP.getData: {
        const r = record('GetDataResponse');
        this.results.push({ type, data: r.data as Buffer | undefined, stat: r.stat });
        break;
      }
      case OP.getChildren: {
        const { children, bytes } = readChildren(buffer, offset + read);
        read += bytes;
        this.results.push({ type, children });
        break;
      }
      default:
        throw new Error('Unknown type: ' + type + ' in transaction response.');
    }
  }
  return read;
}

/** Names (ZooKeeper's KeeperException.Code) for the codes servers send that the library does not know. */
const UNKNOWN_NAMES: Record<number, string> = {
  [-12]: 'UNKNOWN_SESSION',
  [-13]: 'NEW_CONFIG_NO_QUORUM',
  [-14]: 'RECONFIG_IN_PROGRESS',
  [-118]: 'SESSION_MOVED',
  [-119]: 'NOT_READONLY',
  [-120]: 'EPHEMERAL_ON_LOCAL_SESSION',
  [-121]: 'NO_WATCHER',
  [-122]: 'REQUEST_TIMEOUT',
  [-123]: 'RECONFIG_DISABLED',
  [-124]: 'SESSION_CLOSED_REQUIRE_SASL_AUTH',
  [-125]: 'QUOTA_EXCEEDED',
  [-127]: 'THROTTLED_OP',
};

function wrapCreate(original: ExceptionCreate): ExceptionCreate {
  const create = function (code: number, path?: string): Error {
    try {
      return original(code, path);
    } catch (err) {
      // validateCode refused the code: build the library's Exception for it by hand.
      if (typeof code !== 'number' || !/^Unknown code/.test((err as Error).message)) throw err;
      const e = Object.create(Exception.prototype) as Error & { code: number; path?: string };
      const name = UNKNOWN_NAMES[code] ?? 'UNKNOWN_CODE';
      Error.captureStackTrace(e, create);
      Object.assign(e, { code, name, path, message: `Exception: ${name}[${code}]${path ? '@' + path : ''}` });
      return e;
    }
  };
  return create;
}
type ExceptionCreate = (code: number, path?: string) => Error;

/** A multiRead-shaped reply (getData, getChildren, error items) must read back as sent. */
function selfTestResponse(): void {
  const stat = new jute.data.Stat!();
  const parts: Buffer[] = [];
  const header = (type: number, done: boolean, err: number) => {
    const b = Buffer.alloc(9);
    b.writeInt32BE(type, 0);
    b.writeUInt8(done ? 1 : 0, 4);
    b.writeInt32BE(err, 5);
    parts.push(b);
  };
  const int = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n, 0);
    parts.push(b);
  };
  header(OP.getData, false, 0);
  int(2);
  parts.push(Buffer.from('ab'));
  const s = Buffer.alloc(stat.byteLength());
  stat.serialize(s, 0);
  parts.push(s);
  header(OP.getChildren, false, 0);
  int(2);
  for (const c of ['x', 'yz']) {
    int(Buffer.byteLength(c));
    parts.push(Buffer.from(c));
  }
  header(OP.error, false, -101);
  int(-101);
  header(-1, true, -1);
  const buffer = Buffer.concat(parts);
  const r = new (jute.TransactionResponse as unknown as new () => ResponseThis & { deserialize(b: Buffer, o: number): number })();
  const read = r.deserialize(buffer, 0);
  const got = JSON.stringify(r.results.map((i) => [i.type, i.data?.toString(), i.children, i.err]));
  if (read !== buffer.length || got !== JSON.stringify([[4, 'ab', null, null], [8, null, ['x', 'yz'], null], [-1, null, null, -101]])) {
    throw mismatch(`the multiRead reply fix did not take (read ${read} of ${buffer.length}: ${got})`, '1.1.3');
  }
}

function selfTestCodes(): void {
  const known = Exception.create(-101) as Error & { code?: number };
  const unknown = Exception.create(-121) as Error & { code?: number };
  if (known.code !== -101 || known.name !== 'NO_NODE' || unknown.code !== -121 || !(unknown instanceof (Exception as unknown as new () => object))) {
    throw mismatch('the unknown-error-code fix did not take', '1.1.3');
  }
}

/** Applies both fixes once per loaded library. */
export function applyWirePatches(): void {
  const proto = jute.TransactionResponse.prototype;
  const original = proto.deserialize as ((...a: unknown[]) => unknown) & Record<symbol, unknown>;
  if (original[RESPONSE_FLAG] !== true) {
    const replaced = Object.assign(deserializeMulti, { [RESPONSE_FLAG]: true });
    proto.deserialize = replaced;
    try {
      selfTestResponse();
    } catch (err) {
      proto.deserialize = original;
      throw err;
    }
  }
  const create = Exception.create as ExceptionCreate & Record<symbol, unknown>;
  if (create[CODES_FLAG] !== true) {
    Exception.create = Object.assign(wrapCreate(create), { [CODES_FLAG]: true });
    try {
      selfTestCodes();
    } catch (err) {
      Exception.create = create;
      throw err;
    }
  }
}

// The library's modules read both through their module objects at call time.
applyWirePatches();
