// Which assignment nodes of our directory the runner has dealt with, so a listing or event
// does not read them again while they exist: those handled or found stale (`ignored`), and
// those we held an attempt for (their nodes may carry our progress: read alone if read again).
// Both forget a node once it is no longer listed.
export class SeenAssignments {
  private readonly ignored = new Set<string>();
  private readonly held = new Set<string>();

  /** A new incarnation: nothing of the old directory counts. */
  clear(): void {
    this.ignored.clear();
    this.held.clear();
  }

  /** Forgets what is no longer listed. */
  prune(listed: ReadonlyMap<string, unknown>): void {
    for (const k of this.ignored) if (!listed.has(k)) this.ignored.delete(k);
    for (const k of this.held) if (!listed.has(k)) this.held.delete(k);
  }

  ignore(key: string): void {
    this.ignored.add(key);
  }
  isIgnored(key: string): boolean {
    return this.ignored.has(key);
  }
  /** Read it again at the next look; false if it was not ignored (gone, or already looked at). */
  unignore(key: string): boolean {
    return this.ignored.delete(key);
  }

  markHeld(key: string): void {
    this.held.add(key);
  }
  wasHeld(key: string): boolean {
    return this.held.has(key);
  }
}
