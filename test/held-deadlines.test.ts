// The deadlines of what the leader's mirror holds (pure: no ZooKeeper needed): the earliest is
// found, and the overdue taken, without looking at the other held assignments, so a round
// where nothing is due costs the same with 100 000 held as with 10; assignments that left the
// mirror, or whose deadline moved, are never taken.
import { describe, expect, it } from 'vitest';
import { HeldDeadlines } from '../master/held-deadlines.js';
import { HeldIndex } from '../master/held-index.js';
import type { Held } from '../master/leader-context.js';
import { Paths } from '../shared/protocol/paths.js';

const ROOT = '/r/assign';
const held = (i: number, deadline: number | null): Held => ({ member: `m${i % 50}`, taskId: `t${i}`, attempt: 1, deadline });

describe('held deadlines', () => {
  it('100 000 held: earliest and a look with nothing due cost a few checks, not one per assignment', () => {
    const live = new Set<Held>();
    let checks = 0;
    const d = new HeldDeadlines((h) => (checks++, live.has(h)));
    const base = 1_000_000;
    for (let i = 0; i < 100_000; i++) {
      const h = held(i, base + ((i * 7919) % 100_000));
      live.add(h);
      d.added(h);
    }
    checks = 0;
    for (let k = 0; k < 1000; k++) {
      expect(d.earliest()).toBe(base);
      expect(d.due(base - 1)).toEqual([]);
    }
    expect(checks).toBeLessThanOrEqual(2000);
  });

  it('takes the overdue in deadline order, never one that left or whose deadline moved', () => {
    const live = new Set<Held>();
    const d = new HeldDeadlines((h) => live.has(h));
    const hs = Array.from({ length: 10 }, (_, i) => held(i, 100 + i * 10));
    for (const h of hs) live.add(h), d.added(h);
    live.delete(hs[1]!);
    d.removed(hs[1]!);
    d.move(hs[2]!, 1000);
    const due = d.due(150);
    expect(due.map((h) => h.taskId)).toEqual(['t0', 't3', 't4', 't5']);
    // Not dealt with (a reclaim that failed): due again.
    d.stillDue(hs[3]!, 150);
    expect(d.due(150).map((h) => h.taskId)).toEqual(['t3']);
    expect(d.earliest()).toBe(160);
    expect(d.due(10_000).map((h) => h.taskId)).toEqual(['t6', 't7', 't8', 't9', 't2']);
    expect(d.earliest()).toBeNull();
  });

  it("the mirror's deadlines follow what it holds: recorded, finished (deleted), its directory gone", () => {
    const index = new HeldIndex(ROOT, () => undefined);
    const hs = Array.from({ length: 200 }, (_, i) => held(i, 5000 + i));
    for (const h of hs) index.record(h);
    expect(index.deadlines.earliest()).toBe(5000);
    // t0 finishes: its assignment is deleted.
    index.onEvent({ type: 'deleted', path: `${ROOT}/m0/${Paths.assignmentName('t0', 1)}` });
    expect(index.deadlines.earliest()).toBe(5001);
    // m1's directory goes with what it held (t1, t51, ...).
    index.dropDir('m1');
    expect(index.deadlines.earliest()).toBe(5002);
    // Replaced by a read of the same assignment: one entry, the new deadline.
    index.add({ ...hs[2]!, deadline: 9000 });
    expect(index.deadlines.due(5002)).toEqual([]);
    const all = index.deadlines.due(100_000);
    expect(all.length).toBe(200 - 1 - 4);
    expect(new Set(all.map((h) => h.taskId)).size).toBe(all.length);
    expect(all.at(-1)!.deadline).toBe(9000);
  });
});
