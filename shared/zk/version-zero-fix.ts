// Fixes node-zookeeper-client 1.1.3's transaction version-0 bug in the loaded library itself,
// so it reaches every install of drover (a patch of node_modules reaches only this repo's).
//
// Transaction.prototype.check/setData/remove start with `version = version || -1`: version 0
// becomes -1, "any version", so a compare-and-set on a fresh znode inside a multi was
// unconditional. Each is wrapped here: the original runs (its validation and its op), then a
// version 0 is put back into the op it pushed. The library's source is checked first: on
// anything but the code this fix was written for, loading drover throws instead of running
// with a fence that silently does not hold.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** sha256 of each method's source as node-zookeeper-client 1.1.3 ships it. */
const EXPECTED: Record<'check' | 'setData' | 'remove', { versionArg: number; sha256: string }> = {
  check: { versionArg: 1, sha256: 'fb667109045d6d0d9057b3e67e2000720aa1939c88739e9f2b6be663c996a0fe' },
  setData: { versionArg: 2, sha256: '58d4fcffb184c2e29972e2fd689ce8dcd9010b5bddbee6fa7e4e57802dccf142' },
  remove: { versionArg: 1, sha256: '6745b0f567c35fc4165ebd50f25d629e2de21304a37a8c82bfbbbebc7ba35d23' },
};

const LIBRARY = 'node-zookeeper-client';
const VERSION = '1.1.3';
// On the prototype, shared by every copy of drover loaded in the process: wrap once only.
const APPLIED = Symbol.for('drover.zk.version-zero-fix');

type Method = (this: TransactionLike, ...args: unknown[]) => TransactionLike;
interface TransactionLike {
  ops: Array<{ version?: number }>;
}

export class LibraryMismatchError extends Error {
  override name = 'LibraryMismatchError';
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Applies the fix once per loaded library; throws LibraryMismatchError if it cannot. */
export function applyVersionZeroFix(): void {
  const version = (require(`${LIBRARY}/package.json`) as { version?: string }).version;
  const proto = (require(`${LIBRARY}/lib/Transaction.js`) as { prototype: Record<string | symbol, unknown> }).prototype;
  fixTransactionPrototype(proto, version);
}

/** Whether `proto` (a Transaction.prototype) carries the fix, self-tested. */
export function versionZeroFixApplied(proto: Record<string | symbol, unknown>): boolean {
  return proto[APPLIED] === true;
}

/**
 * Wraps `proto`'s check/setData/remove (once), then self-tests them. The applied flag is set
 * only once the self-test has passed: on a failure the originals are put back and the error
 * thrown, so a later load tries again (and fails loudly again) instead of taking a fix that
 * did not take for done. `test` is the self-test (tests give one that fails).
 */
export function fixTransactionPrototype(
  proto: Record<string | symbol, unknown>,
  version: string | undefined,
  test: (proto: Record<string | symbol, unknown>) => void = selfTest,
): void {
  if (versionZeroFixApplied(proto)) return;
  const mismatch = (why: string) =>
    new LibraryMismatchError(
      `drover needs ${LIBRARY} ${VERSION} as published (found ${version ?? 'an unknown version'}): ${why}. ` +
        `Its transaction version-0 fix cannot be applied, and without it a version check of 0 in a multi is no check at all.`,
    );
  if (version !== VERSION) throw mismatch('another version');
  const originals = {} as Record<keyof typeof EXPECTED, Method>;
  for (const [name, { sha256: want }] of Object.entries(EXPECTED) as Array<[keyof typeof EXPECTED, { sha256: string }]>) {
    const fn = proto[name];
    if (typeof fn !== 'function') throw mismatch(`Transaction.prototype.${name} is missing`);
    if (sha256(fn.toString()) !== want) throw mismatch(`Transaction.prototype.${name} is not the code this fix was written for`);
    originals[name] = fn as Method;
  }
  for (const [name, { versionArg }] of Object.entries(EXPECTED) as Array<[keyof typeof EXPECTED, { versionArg: number }]>) {
    const original = originals[name];
    proto[name] = function (this: TransactionLike, ...args: unknown[]): TransactionLike {
      const result = original.apply(this, args);
      // The original pushed its op last, with -1 where version 0 was asked for.
      if (args[versionArg] === 0) this.ops[this.ops.length - 1]!.version = 0;
      return result;
    };
  }
  try {
    test(proto);
  } catch (err) {
    Object.assign(proto, originals);
    throw err;
  }
  Object.defineProperty(proto, APPLIED, { value: true });
}

/** A transaction built with version 0 must carry version 0 (no server needed to tell). */
function selfTest(proto: Record<string | symbol, unknown>): void {
  const tx = Object.assign(Object.create(proto) as Record<string, Method> & TransactionLike, { ops: [] });
  tx.check!('/drover-self-test', 0);
  tx.setData!('/drover-self-test', Buffer.alloc(0), 0);
  tx.remove!('/drover-self-test', 0);
  tx.check!('/drover-self-test');
  const versions = tx.ops.map((o) => o.version);
  if (versions.join() !== '0,0,0,-1') {
    throw new LibraryMismatchError(`${LIBRARY}: the version-0 fix did not take (versions ${versions.join()})`);
  }
}

applyVersionZeroFix();
