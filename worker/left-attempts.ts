// Attempts whose commit was refused again and again ('left'): not over, since their assignment
// is read and run again later and that run reports the attempt. When no re-run comes (the
// assignment went, a new incarnation, a stop), the attempt is reported here as abandoned, so
// every attempt that ran reports exactly one end.
export class LeftAttempts {
  /** By assignment path: how to report the attempt as abandoned. */
  private readonly pending = new Map<string, () => void>();

  add(key: string, reportAbandoned: () => void): void {
    this.pending.set(key, reportAbandoned);
  }

  /** Its assignment is being run again: that run reports it. */
  rerun(key: string): void {
    this.pending.delete(key);
  }

  /** Reports as abandoned those `which` selects: no re-run will report them. */
  report(which: (key: string) => boolean): void {
    for (const [key, reportAbandoned] of this.pending) {
      if (!which(key)) continue;
      this.pending.delete(key);
      reportAbandoned();
    }
  }
}
