// One transition's multi and what its refusal means. Every op is added with the batch item it
// belongs to and whether it is the caller's fence; a refusal is read back through that, once,
// here, so no role counts op indices:
//
//   committed  the server applied the whole multi
//   fenced     the caller's fence refused it: the leader's election node is gone (deposed), or
//              the worker's own assignment node is (its attempt was cancelled or reclaimed)
//   moved      another op refused it: the record (its version) or an index entry changed
//              under us; `item` says which item of a batch, `part` which node, `code` how
//   unknown    connection loss, request timeout or session expiry: the server may or may not
//              have applied it; the caller verifies by reading back
//
// Any other error (NO_AUTH, the session closed by its owner, a library fault) is thrown as it came.
import { ConnectionLossError, NoAuthError, SessionExpiredError, ZkError, type ZkErrorCode } from '../zk/errors.js';
import type { Op, OpResult, ZkSession } from '../zk/session.js';
import type { Part, Paths } from './paths.js';
import { opsBytes } from './task-ops.js';

export interface Fenced {
  kind: 'fenced';
  /** The item whose own fence refused (a worker's assignment); null for the batch's one fence (the leader's). */
  item: number | null;
  error: ZkError;
}

export interface Moved {
  kind: 'moved';
  /** Which item of the multi (0 for a single transition; for a batch, the index into the caller's list). */
  item: number;
  /** Which node refused: the record, or which index entry. */
  part: Part;
  /** How: BAD_VERSION (the record moved), NO_NODE (an entry is gone), NODE_EXISTS, NOT_EMPTY. */
  code: ZkErrorCode;
  error: ZkError;
}

export interface Unknown {
  kind: 'unknown';
  error: ZkError;
}

export type Refusal = Fenced | Moved | Unknown;
export type Verdict<C extends object = object> = ({ kind: 'committed' } & C) | Refusal;
/** A batch transition's verdict: `taken` items (from the start given) went into its one multi. */
export type BatchVerdict<C extends object = object> = Verdict<C> & { taken: number };

/** What every transition runs on. */
export interface Tx {
  session: ZkSession;
  paths: Paths;
}

/** The leader's transitions also carry its fence: the check of its own election node. */
export interface LeaderTx extends Tx {
  fence(): Op;
}

interface Tag {
  item: number | null;
  fence: boolean;
}

const EMPTY_BYTES = opsBytes([]);

/** The ops of one multi, each tagged with its item and whether it is a fence; sized as it grows. */
export class Multi {
  readonly ops: Op[] = [];
  private readonly tags: Tag[] = [];
  private _bytes = EMPTY_BYTES;
  private _items = 0;
  /** item → index of the op that sets its record. */
  private readonly recordOps = new Map<number, number>();

  constructor(private readonly paths: Paths) {}

  /** Exact size of the request so far (opsBytes). */
  get bytes(): number {
    return this._bytes;
  }
  /** Items added so far. */
  get items(): number {
    return this._items;
  }

  /** The caller's fence (the leader's election check): a refusal here is `fenced`. */
  fence(op: Op): this {
    this.push(op, { item: null, fence: true });
    return this;
  }

  /** One item's ops. Those on a `fencedBy` node (a worker's own assignment) are the item's fence. */
  add(item: number, ops: Op[], fencedBy?: Part): this {
    for (const op of ops) this.push(op, { item, fence: fencedBy !== undefined && this.paths.partOf(op.path) === fencedBy });
    this._items++;
    return this;
  }

  /** Would `ops` still fit under `maxBytes`? (The first item always does: it goes alone or not at all.) */
  fits(ops: Op[], maxBytes: number): boolean {
    return this._items === 0 || this._bytes + opsBytes(ops) <= maxBytes;
  }

  private push(op: Op, tag: Tag): void {
    if (op.op === 'setData' && tag.item !== null && this.paths.partOf(op.path) === 'record') this.recordOps.set(tag.item, this.ops.length);
    this.ops.push(op);
    this.tags.push(tag);
    this._bytes += opsBytes([op]) - EMPTY_BYTES;
  }

  /** What a refusal of this multi means. */
  refusal(err: unknown): Refusal {
    if (!(err instanceof ZkError)) throw err;
    if (err instanceof ConnectionLossError || err instanceof SessionExpiredError) return { kind: 'unknown', error: err };
    // A refusal (NO_AUTH) names its op too, but nothing moved: the same request gets the same answer.
    if (err instanceof NoAuthError) throw err;
    const i = err.opIndex;
    const tag = i === undefined ? undefined : this.tags[i];
    if (i === undefined || !tag) throw err;
    if (tag.fence) return { kind: 'fenced', item: tag.item, error: err };
    return { kind: 'moved', item: tag.item ?? 0, part: this.paths.partOf(this.ops[i]!.path), code: err.code, error: err };
  }

  /** Sends the multi: its results, or the refusal read back. */
  async send(session: ZkSession): Promise<{ kind: 'committed'; results: OpResult[] } | Refusal> {
    try {
      return { kind: 'committed', results: await session.multi(this.ops) };
    } catch (err) {
      return this.refusal(err);
    }
  }

  /** The version the committed multi gave `item`'s record. */
  recordVersion(results: OpResult[], item: number): number {
    const i = this.recordOps.get(item);
    const r = i === undefined ? undefined : results[i];
    if (r?.op !== 'setData') throw new Error(`item ${item} of the multi set no record`);
    return r.stat.version;
  }
}
