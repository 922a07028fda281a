// Pure protocol pieces, no server: paths and names, the record schema, the transition
// table, the assignment policy.
import { describe, expect, it } from 'vitest';
import { InvalidIdError, Paths, allShards, shardOf } from '../shared/protocol/paths.js';
import {
  MalformedRecordError,
  PayloadTooLargeError,
  TaskValidationError,
  backoffDelay,
  decodeRecord,
  encodeRecord,
  newTaskRecord,
} from '../shared/protocol/task-record.js';
import {
  IllegalTransitionError,
  TRANSITIONS,
  UNKNOWN_TYPE_BACKOFF,
  assignTask,
  attemptsUsed,
  cancelTask,
  failAttempt,
  startTask,
  succeedTask,
  unknownTypeBackoff,
} from '../shared/protocol/task-state.js';
import { reclaimOps } from '../shared/protocol/task-ops.js';
import { planAssignments } from '../master/assignment-policy.js';
import { candidateSeq } from '../shared/zk/election.js';
import { checkLayout, parseLayout } from '../shared/protocol/layout.js';

describe('paths', () => {
  const p = new Paths('/drover', 256);
  it('shards spread ids and are stable', () => {
    expect(shardOf('task-1', 256)).toBe(shardOf('task-1', 256));
    const counts = new Map<string, number>();
    for (let i = 0; i < 25600; i++) {
      const s = shardOf(`t${i}`, 256);
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    expect(counts.size).toBe(256);
    expect(Math.max(...counts.values())).toBeLessThan(200); // mean 100
    expect(allShards(256)[255]).toBe('ff');
    expect(p.task('abc')).toBe(`/drover/tasks/${shardOf('abc', 256)}/abc`);
  });
  it('queue entry names sort by priority (high first), then not-before', () => {
    const names = [
      Paths.queueEntryName(0, 2000, 'late-low'),
      Paths.queueEntryName(5, 3000, 'high'),
      Paths.queueEntryName(0, 1000, 'early-low'),
    ].sort();
    expect(names.map((n) => Paths.parseQueueEntry('00', n)!.taskId)).toEqual(['high', 'early-low', 'late-low']);
    expect(Paths.parseQueueEntry('00', names[0]!)).toMatchObject({ priority: 5, notBefore: 3000 });
  });
  it('member and assignment names carry incarnation and attempt', () => {
    expect(Paths.parseMember(Paths.memberName('w-1', 'abc'))).toEqual({ workerId: 'w-1', incarnation: 'abc' });
    expect(Paths.parseAssignment(Paths.assignmentName('t:1', 3))).toEqual({ taskId: 't:1', attempt: 3 });
    expect(Paths.parseAssignment('t~0')).toBeNull();
    expect(candidateSeq('c_0123abcd_0000000042')).toBe(42);
  });
  it('rejects ids that would break a path', () => {
    for (const bad of ['', 'a/b', '..', 'a~b', 'x'.repeat(201)]) expect(() => p.task(bad) && newTaskRecord({ type: 'echo', id: bad })).toThrow(InvalidIdError);
  });
});

describe('layout node', () => {
  it('one check for every reader: its layout, or what is wrong with it', () => {
    const b = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
    expect(checkLayout('/r', b({ format: 1, shards: 8, createdAt: 5 }))).toEqual({ layout: { format: 1, shards: 8, createdAt: 5 } });
    expect(checkLayout('/r', b({ format: 2, shards: 8, createdAt: 5 }))).toEqual({ problem: 'has layout format 2; this drover reads format 1' });
    expect(checkLayout('/r', b('{nope'))).toEqual({ problem: 'is not JSON' });
    expect(checkLayout('/r', b('null'))).toEqual({ problem: 'is not a layout' });
    expect(checkLayout('/r', b({ format: 1 }))).toEqual({ problem: 'has no createdAt' });
    expect(checkLayout('/r', b({ format: 1, shards: 0, createdAt: 5 }))).toHaveProperty('problem');
    expect(parseLayout('/r', b({ format: 1, shards: 0, createdAt: 5 }))).toBeNull();
  });
});

describe('task record', () => {
  it('validates a submission and fills defaults', () => {
    const r = newTaskRecord({ type: 'echo', payload: { a: 1 } }, undefined, 1000);
    expect(r).toMatchObject({ state: 'queued', attempt: 0, priority: 0, maxAttempts: 3, timeoutMs: 0, createdAt: 1000, worker: null });
    expect(decodeRecord(encodeRecord(r), r.id)).toEqual(r);
  });
  it('names the field and value of a bad submission', () => {
    expect(() => newTaskRecord({ type: 'echo', priority: 10_000 })).toThrow(/priority must be an integer in 0..9999, got 10000/);
    expect(() => newTaskRecord({ type: '' })).toThrow(TaskValidationError);
    expect(() => newTaskRecord({ type: 'echo', maxAttempts: 0 })).toThrow(/maxAttempts/);
  });
  it('caps payload size with a clear error', () => {
    const err = (() => {
      try {
        newTaskRecord({ type: 'echo', id: 'big', payload: 'x'.repeat(70_000) });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as Error).message).toBe('payload of task big is 70002 bytes, over the 65536-byte limit');
  });
  it('reports what is wrong with a malformed record', () => {
    expect(() => decodeRecord(Buffer.from('{not json'))).toThrow(MalformedRecordError);
    expect(() => decodeRecord(Buffer.from('{"format":1,"id":"a","type":"x","state":"weird"}'))).toThrow(/unknown state "weird"/);
    expect(() => decodeRecord(Buffer.from('[]'))).toThrow(/not an object/);
  });
  it('backoff grows exponentially up to its cap', () => {
    const b = { initialMs: 100, factor: 2, maxMs: 500 };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelay({ backoff: b, attempt }))).toEqual([100, 200, 400, 500, 500]);
  });
});

describe('task state machine', () => {
  const base = newTaskRecord({ type: 'echo', maxAttempts: 2, backoff: { initialMs: 10 } }, undefined, 0);
  it('walks queued → assigned → running → succeeded', () => {
    const a = assignTask(base, 'w~1', 7, 1);
    expect(a).toMatchObject({ state: 'assigned', attempt: 1, worker: 'w~1', epoch: 7 });
    const r = startTask(a, 2);
    expect(succeedTask(r, { ok: true }, 3)).toMatchObject({ state: 'succeeded', result: { ok: true }, finishedAt: 3 });
  });
  it('retries a retryable failure with backoff, then fails when attempts are used up', () => {
    const r1 = startTask(assignTask(base, 'w~1', 1, 0), 0);
    const q = failAttempt(r1, { kind: 'handler', message: 'x', retryable: true }, 100);
    expect(q).toMatchObject({ state: 'queued', attempt: 1, notBefore: 110 });
    const r2 = startTask(assignTask(q, 'w~1', 1, 200), 200);
    expect(failAttempt(r2, { kind: 'handler', message: 'x', retryable: true }, 300)).toMatchObject({ state: 'failed', attempt: 2 });
    expect(failAttempt(r1, { kind: 'handler', message: 'x', retryable: false }, 100).state).toBe('failed');
  });
  describe('attempts lost to infrastructure', () => {
    const lostErr = { kind: 'worker-lost' as const, message: 'worker gone', retryable: true };
    const handlerErr = { kind: 'handler' as const, message: 'boom', retryable: true };
    const running = (r: typeof base, now = 0) => startTask(assignTask(r, 'w~1', 1, now), now);
    const one = newTaskRecord({ type: 'echo', maxAttempts: 1, backoff: { initialMs: 1000 } }, undefined, 0);

    it('a lost attempt uses up none: lost counts it, it goes back at once, attempt still grows', () => {
      const q = failAttempt(running(one), lostErr, 50);
      expect(q).toMatchObject({ state: 'queued', attempt: 1, lost: 1, notBefore: 50, error: lostErr });
      expect(attemptsUsed(q)).toBe(0);
      // The one attempt maxAttempts allows is still there: a real failure now ends the task.
      const r2 = running(q, 60);
      expect(r2.attempt).toBe(2);
      expect(failAttempt(r2, handlerErr, 70)).toMatchObject({ state: 'failed', attempt: 2, lost: 1, error: handlerErr });
      expect(succeedTask(running(q, 60), 'ok', 70)).toMatchObject({ state: 'succeeded', attempt: 2, lost: 1 });
      // A handler failure after losses retries while (attempt − lost) < maxAttempts.
      const two = failAttempt(running(newTaskRecord({ type: 'echo', maxAttempts: 2 }, undefined, 0)), lostErr, 1);
      expect(failAttempt(running(two), handlerErr, 2)).toMatchObject({ state: 'queued', attempt: 2, lost: 1 });
    });

    it('lost attempts do not grow the backoff', () => {
      const q = failAttempt(running(failAttempt(running(base), lostErr, 0)), handlerErr, 100);
      expect(q).toMatchObject({ state: 'queued', attempt: 2, lost: 1, notBefore: 110 });
    });

    it('an unknown type is a lost attempt too (a rolling deploy), not a failure', () => {
      const err = { kind: 'unknown-type' as const, message: 'no handler', retryable: true };
      expect(failAttempt(running(one), err, 5)).toMatchObject({ state: 'queued', lost: 1, attempt: 1 });
      expect(attemptsUsed(failAttempt(running(one), err, 5))).toBe(0);
    });

    it('an unknown-type loss goes back after a backoff (by its count of losses, capped); a worker-lost one at once', () => {
      // An old leader that ignores types could hand it to workers without the handler again and
      // again: without a wait, 10 such losses would use up maxLost within milliseconds.
      const err = { kind: 'unknown-type' as const, message: 'no handler', retryable: true };
      let r = one; // backoff 1000 ms, factor 2, max 60 s
      const waits: number[] = [];
      let now = 0;
      for (let i = 1; i <= 10; i++) {
        r = failAttempt(running(r, now), err, now);
        expect(r).toMatchObject({ state: 'queued', lost: i });
        waits.push(r.notBefore! - now);
        now = r.notBefore!;
      }
      expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000]);
      expect(failAttempt(running(r, now), err, now)).toMatchObject({ state: 'failed', lost: 11, error: { kind: 'unknown-type', retryable: false } });
      // At least a second, whatever the task's backoff; at most 30 s.
      expect(unknownTypeBackoff({ backoff: { initialMs: 0, factor: 1, maxMs: 0 } }, 1)).toBe(UNKNOWN_TYPE_BACKOFF.minMs);
      expect(unknownTypeBackoff({ backoff: { initialMs: 86_400_000, factor: 10, maxMs: 86_400_000 } }, 1000)).toBe(UNKNOWN_TYPE_BACKOFF.maxMs);
      // A worker lost (its session, a withdrawal) is requeued at once, as before.
      const lost = failAttempt(running(failAttempt(running(one), err, 0), 4000), lostErr, 5000);
      expect(lost).toMatchObject({ state: 'queued', lost: 2, notBefore: 5000 });
    });

    it('maxLost bounds them: a task whose every attempt is lost ends failed/worker-lost', () => {
      let r = newTaskRecord({ type: 'echo', maxAttempts: 5, maxLost: 3 }, undefined, 0);
      for (let i = 1; i <= 3; i++) {
        r = failAttempt(running(r), lostErr, i);
        expect(r).toMatchObject({ state: 'queued', attempt: i, lost: i });
      }
      expect(failAttempt(running(r), lostErr, 9)).toMatchObject({ state: 'failed', attempt: 4, lost: 4, error: { kind: 'worker-lost', retryable: false } });
    });

    it('a record from before the counter (no lost, no maxLost) decodes and gets the default cap of 10', () => {
      const { lost: _l, maxLost: _m, ...old } = one;
      let r = decodeRecord(encodeRecord(old as typeof one));
      expect(r.lost).toBeUndefined();
      for (let i = 1; i <= 10; i++) r = failAttempt(running(r), lostErr, i);
      expect(r).toMatchObject({ state: 'queued', lost: 10 });
      expect(failAttempt(running(r), lostErr, 11)).toMatchObject({ state: 'failed', lost: 11, error: { kind: 'worker-lost' } });
      expect(() => decodeRecord(encodeRecord({ ...one, lost: -1 }))).toThrow(/lost is not a count/);
    });

    it('the leader reclaiming an attempt that never started counts it as lost, whatever the reason given', () => {
      const paths = new Paths('/d', 8);
      const timeout = { kind: 'timeout' as const, message: 'passed its deadline', retryable: true };
      const assigned = assignTask(one, 'w~1', 1, 0);
      const t = reclaimOps(paths, { record: assigned, version: 1 }, timeout, 100, false);
      expect(t.next).toMatchObject({ state: 'queued', attempt: 1, lost: 1, notBefore: 100, error: { kind: 'worker-lost', retryable: true } });
      expect(t.next.error!.message).toContain('passed its deadline');
      expect(t.ops.map((o) => o.op)).toEqual(['remove', 'setData', 'create']);
      // One that ran and overran its deadline used its attempt.
      const overran = reclaimOps(paths, { record: startTask(assigned, 1), version: 2 }, timeout, 100, false);
      expect(overran.next).toMatchObject({ state: 'failed', lost: 0, error: timeout });
      // A gone worker's running attempt is lost.
      const gone = reclaimOps(paths, { record: startTask(assigned, 1), version: 2 }, lostErr, 100, true);
      expect(gone.next).toMatchObject({ state: 'queued', lost: 1, notBefore: 100 });
    });

    it('maxLost is checked at submit like maxAttempts', () => {
      expect(newTaskRecord({ type: 'echo' }).maxLost).toBe(10);
      expect(newTaskRecord({ type: 'echo', maxLost: 0 }).maxLost).toBe(0);
      for (const bad of [-1, 1.5, 1001, '3']) expect(() => newTaskRecord({ type: 'echo', maxLost: bad as number })).toThrow(/maxLost must be an integer in 0\.\.1000/);
    });
  });
  it('refuses illegal transitions', () => {
    const done = succeedTask(startTask(assignTask(base, 'w', 1, 0), 0), 1, 0);
    expect(() => cancelTask(done, 'late', 1)).toThrow(IllegalTransitionError);
    expect(() => startTask(base, 0)).toThrow(/illegal transition queued → running/);
    expect(TRANSITIONS.succeeded).toEqual([]);
    // Out of failed/cancelled only by a retry (retryTask): a late attempt's failure stays illegal.
    for (const t of ['failed', 'cancelled'] as const) expect(TRANSITIONS[t]).toEqual(['queued']);
  });
});

describe('assignment policy', () => {
  const w = (name: string, capacity: number, load = 0, labels: Record<string, string> = {}, state = 'alive') => ({ name, capacity, load, labels, state });
  const t = (id: string, labels: Record<string, string> = {}) => ({ id, labels });
  it('never exceeds capacity and spreads least-loaded first', () => {
    const placed = planAssignments([t('1'), t('2'), t('3'), t('4'), t('5')], [w('a', 2), w('b', 2, 1)]);
    expect(placed.map((p) => p.worker)).toEqual(['a', 'a', 'b']); // b starts half full; then both are full
    expect(planAssignments([t('1'), t('2'), t('3'), t('4')], [w('a', 3), w('b', 3)]).map((p) => p.worker)).toEqual(['a', 'b', 'a', 'b']);
  });
  it('honours labels and skips workers that are not alive', () => {
    const placed = planAssignments([t('gpu', { gpu: 'yes' }), t('any')], [w('cpu', 4), w('g', 1, 0, { gpu: 'yes' }), w('d', 9, 0, {}, 'draining')]);
    expect(placed).toEqual([
      { task: t('gpu', { gpu: 'yes' }), worker: 'g' },
      { task: t('any'), worker: 'cpu' },
    ]);
    expect(planAssignments([t('x', { zone: 'eu' })], [w('us', 4, 0, { zone: 'us' })])).toEqual([]);
  });
});
