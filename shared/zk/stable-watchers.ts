import type { Watcher, ZkSession } from './session.js';

/**
 * One watcher function per key and session. The client library arms a watch once per
 * function object and path; a fresh closure on every re-read would add one more listener
 * each time, and on a quiet path they pile up until it changes.
 */
export class StableWatchers {
  private generation = -1;
  private readonly byKey = new Map<string, Watcher>();

  constructor(private readonly session: ZkSession) {}

  /** The watcher for `key` in the current session; `make` gets that session's generation. */
  get(key: string, make: (generation: number) => Watcher): Watcher {
    const g = this.session.generation;
    if (g !== this.generation) {
      this.byKey.clear();
      this.generation = g;
    }
    let w = this.byKey.get(key);
    if (!w) this.byKey.set(key, (w = make(g)));
    return w;
  }

  /** Forgets a key whose path is gone (its watch has fired or will never be armed again). */
  delete(key: string): void {
    this.byKey.delete(key);
  }

  /** Forgets `key` and returns its watcher of the current session, if it has one (to take it off the session). */
  take(key: string): Watcher | undefined {
    const w = this.generation === this.session.generation ? this.byKey.get(key) : undefined;
    this.byKey.delete(key);
    return w;
  }
}
