// TopWaiting (master/top-waiting.ts), the bounded top-k of waiting classes that status shows
// (paused ones too): the same as a full sort, without one; ties on count go by type, a tie on
// both keeps the first seen.
import { describe, expect, it } from 'vitest';
import { TopWaiting } from '../master/top-waiting.js';

describe('TopWaiting', () => {
  it('the waiting classes status shows (paused ones too) are a bounded top-k: the same as a full sort, without one', () => {
    const all = Array.from({ length: 5000 }, (_, i) => ({ type: `t${i % 97}`, labels: { n: String(i) }, count: (i * 7919) % 301, reason: i % 2 ? 'paused' : 'no worker' }));
    const top = new TopWaiting(10);
    for (const w of all) top.add(w);
    const sorted = [...all].sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
    expect(top.classes.map((w) => [w.count, w.type])).toEqual(sorted.slice(0, 10).map((w) => [w.count, w.type]));
    expect([top.total, top.tasks]).toEqual([5000, all.reduce((n, w) => n + w.count, 0)]);
    // The cut falls inside a tie: 17 classes of count 300, arriving in no type order, 10 kept by type.
    expect(all.filter((w) => w.count === 300)).toHaveLength(17);
    expect(top.classes.map((w) => w.type)).toEqual(['t14', 't17', 't24', 't27', 't34', 't37', 't4', 't44', 't47', 't54']);
    // Ties on count and type: the first seen stays ahead (and a later equal one does not push it out at the cut).
    const small = new TopWaiting(2);
    for (const [type, n, count] of [['b', '1', 5], ['a', '2', 5], ['a', '3', 5], ['c', '4', 9], ['a', '5', 5]] as const) small.add({ type, labels: { n }, count, reason: 'paused' });
    expect(small.classes.map((w) => [w.count, w.type, w.labels.n])).toEqual([[9, 'c', '4'], [5, 'a', '2']]);
  });
});
