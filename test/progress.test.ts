// Plain progress lines (stderr not a terminal): one a tenth, one every few seconds while
// nothing else was printed, nothing after stop(). Real timers, a collecting stream.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, progressFor, NO_PROGRESS } from '../cli/progress.js';
import { waitFor } from './harness/wait-for.js';

function sink(): { stream: NodeJS.WriteStream; lines: () => string[] } {
  let text = '';
  const w = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream: w as unknown as NodeJS.WriteStream, lines: () => text.split('\n').filter(Boolean) };
}

describe('plain progress', () => {
  it('prints a line each tenth of each phase, with the outcome counts', () => {
    const s = sink();
    const p = createProgress({ total: 100, stream: s.stream, tty: false, everyMs: 60_000 });
    for (let n = 10; n <= 100; n += 5) p.submitted(n);
    p.waiting();
    for (let i = 0; i < 100; i++) p.finished({ state: i % 10 === 0 ? 'failed' : i === 1 ? 'cancelled' : 'succeeded' });
    p.stop();
    p.finished({ state: 'succeeded' }); // after stop: nothing
    const lines = s.lines();
    expect(lines.filter((l) => l.startsWith('drover: submitted'))).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100].map((n) => `drover: submitted ${n}/100`));
    const finished = lines.filter((l) => l.startsWith('drover: finished'));
    expect(finished).toHaveLength(11); // 0/100, then one a tenth
    expect(finished[0]).toBe('drover: finished 0/100 (0 succeeded, 0 failed)');
    expect(finished.at(-1)).toBe('drover: finished 100/100 (89 succeeded, 10 failed, 1 cancelled)');
  });

  it('repeats the last line while nothing moves, and stops with stop()', async () => {
    const s = sink();
    const p = createProgress({ total: 10, stream: s.stream, tty: false, everyMs: 100 });
    p.waiting();
    p.finished({ state: 'succeeded' });
    await waitFor(() => s.lines().length >= 4, { timeoutMs: 5000, message: 'timed lines' });
    expect(new Set(s.lines().slice(1))).toEqual(new Set(['drover: finished 1/10 (1 succeeded, 0 failed)']));
    p.stop();
    const n = s.lines().length;
    await new Promise((r) => setTimeout(r, 300)); // a stopped progress prints nothing more: three periods
    expect(s.lines()).toHaveLength(n);
  });

  it('is none for fewer than ten tasks or when not wanted', () => {
    expect(progressFor(9, true)).toBe(NO_PROGRESS);
    expect(progressFor(100, false)).toBe(NO_PROGRESS);
    const p = progressFor(10, true);
    p.stop(); // its timer is cleared whatever the assertion says
    expect(p).not.toBe(NO_PROGRESS);
  });
});
