// The dependency releaser's size estimates (master/dag-sizes.ts), on a clock of the test's own:
// small calls do not wear the estimate down (it decays by time), and once it has decayed a
// call starts with a probe sized at the largest ever seen, whose reply resizes the requests
// after it. The fan-in of the review: one 64 KiB record, then many calls of small ones, then
// 1 000 parents of 64 KiB: no request is estimated to hold more than 512 KiB of them.
import { describe, expect, it } from 'vitest';
import { DecayingSizes, HALF_LIFE_MS } from '../master/dag-sizes.js';

const KIB = 1024;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${i}`);

/** Replays readRecords's sizing (probe, then each request sized as sent) over records of `bytes` each; the requests' sizes. */
function requests(s: DecayingSizes, n: number, bytes: number): number[] {
  const all = ids(n);
  const out: number[] = [];
  const send = (g: readonly string[]) => {
    out.push(g.length);
    for (const _ of g) s.note(bytes);
  };
  const probe = s.probe(all);
  if (probe.length > 0) send(probe);
  for (let next = probe.length; next < n; ) {
    const g = all.slice(next, next + s.perRequest());
    next += g.length;
    send(g);
  }
  return out;
}

describe('the releaser size estimate', () => {
  it('many calls of small records keep a recent large one (decay by time, not by call)', () => {
    let now = 1_000_000;
    const s = new DecayingSizes(() => now);
    requests(s, 4, 64 * KIB);
    for (let call = 0; call < 20; call++) requests(s, 100, KIB);
    expect(s.perRequest()).toBe(8); // 512 KiB / 64 KiB
    now += 10 * HALF_LIFE_MS; // long quiet: decayed to the floor
    expect(s.perRequest()).toBe(100);
  });

  it('a decayed estimate: the call probes at the largest ever seen, then sizes from its reply', () => {
    let now = 1_000_000;
    const s = new DecayingSizes(() => now);
    requests(s, 4, 64 * KIB);
    now += 10 * HALF_LIFE_MS;
    for (let call = 0; call < 5; call++) requests(s, 100, KIB);
    const fanIn = requests(s, 1000, 64 * KIB);
    expect(fanIn[0]).toBe(4); // the probe (≤ 4, ≤ 512 KiB at the largest ever seen)
    expect(Math.max(...fanIn) * 64 * KIB).toBeLessThanOrEqual(512 * KIB);
    expect(fanIn.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('records that stay small pack 100 a request with no probe', () => {
    const s = new DecayingSizes();
    expect(requests(s, 1000, 2 * KIB)).toEqual([4, ...Array.from({ length: 9 }, () => 100), 96]); // a fresh estimate probes 4
    expect(requests(s, 1000, 2 * KIB)).toEqual(Array.from({ length: 10 }, () => 100));
  });
});
