// One abort listener per AbortSignal, however many waits share it (waiters.ts).

export class SignalIndex<W> {
  private readonly bySignal = new Map<AbortSignal, { members: Set<W>; onAbort: () => void }>();

  /** `aborted(w, reason)` is called for every member of a signal when it aborts. */
  constructor(private readonly aborted: (w: W, reason: unknown) => void) {}

  add(signal: AbortSignal, w: W): void {
    let s = this.bySignal.get(signal);
    if (!s) {
      const members = new Set<W>();
      const onAbort = () => {
        for (const x of [...members]) this.aborted(x, signal.reason ?? new Error('aborted'));
      };
      s = { members, onAbort };
      this.bySignal.set(signal, s);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    s.members.add(w);
  }

  /** Takes `w` off `signal`; the listener goes with its last member. */
  remove(signal: AbortSignal, w: W): void {
    const s = this.bySignal.get(signal);
    if (!s) return;
    s.members.delete(w);
    if (s.members.size > 0) return;
    signal.removeEventListener('abort', s.onAbort);
    this.bySignal.delete(signal);
  }
}
