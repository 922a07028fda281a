// The version-0 fix of node-zookeeper-client's transactions (shared/zk/version-zero-fix.ts)
// counts as applied only once its self-test has passed: a fix whose self-test failed is undone
// and tried again (failing loudly again) on the next load, not taken for done.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { LibraryMismatchError, fixTransactionPrototype, versionZeroFixApplied } from '../shared/zk/version-zero-fix.js';

const require = createRequire(import.meta.url);
type Proto = Record<string | symbol, unknown>;
interface Tx {
  ops: Array<{ version?: number }>;
  check(path: string, version?: number): unknown;
}

/** A fresh copy of the library's Transaction.prototype, as published (unfixed). */
function freshPrototype(): Proto {
  const file = require.resolve('node-zookeeper-client/lib/Transaction.js');
  const cached = require.cache[file];
  delete require.cache[file];
  try {
    return (require(file) as { prototype: Proto }).prototype;
  } finally {
    if (cached) require.cache[file] = cached;
  }
}

const checkVersion = (proto: Proto): number | undefined => {
  const tx = Object.assign(Object.create(proto) as Tx, { ops: [] as Tx['ops'] });
  tx.check('/x', 0);
  return tx.ops[0]!.version;
};

describe('version-0 fix', () => {
  it('is applied to the loaded library, and a fresh copy is the unfixed code', () => {
    expect(versionZeroFixApplied((require('node-zookeeper-client/lib/Transaction.js') as { prototype: Proto }).prototype)).toBe(true);
    const proto = freshPrototype();
    expect(versionZeroFixApplied(proto)).toBe(false);
    expect(checkVersion(proto)).toBe(-1); // the library's bug: version 0 became "any"
  });

  it('a failed self-test leaves it not applied and the originals in place; the next try runs the self-test again', () => {
    const proto = freshPrototype();
    const original = proto.check;
    const failing = () => {
      throw new LibraryMismatchError('self-test failed (simulated)');
    };
    expect(() => fixTransactionPrototype(proto, '1.1.3', failing)).toThrow(/simulated/);
    expect(versionZeroFixApplied(proto)).toBe(false);
    expect(proto.check).toBe(original);
    let tested = 0;
    fixTransactionPrototype(proto, '1.1.3', () => void tested++);
    expect(tested).toBe(1);
    expect(versionZeroFixApplied(proto)).toBe(true);
    expect(checkVersion(proto)).toBe(0);
    // Applied once: a second load neither wraps again nor tests again.
    fixTransactionPrototype(proto, '1.1.3', () => void tested++);
    expect(tested).toBe(1);
  });

  it('refuses another version of the library', () => {
    expect(() => fixTransactionPrototype(freshPrototype(), '1.1.4')).toThrow(LibraryMismatchError);
  });
});
