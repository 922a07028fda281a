// Which task classes (type + label set) some free worker can take, decided against the
// distinct worker *profiles* (types + labels) of the live workers rather than against each
// worker, and cached per class:
//
//   - a class's acceptors are the live profiles that would take it (typed first: profiles
//     that list its type and carry its labels; typeless ones only when there are none);
//     classes with the same acceptors share a group;
//   - a class is decided once when it first appears, and again only when the set of live
//     profiles changes (a worker of a new profile joins, the last of one leaves), and then
//     incrementally: each class is tested against the profiles that came, and loses those
//     that went;
//   - whether a group is open (some acceptor has a free slot) and its quota (their free slots)
//     are read per round from the profiles' free capacity: nothing per class.
//
// So a round never touches a class no free worker can take (the group of no acceptors is
// never opened), however many there are; and free capacity changing (workers filling up,
// freeing) costs nothing per class.
//
// Paused scopes (control/paused, master/control-watch.ts) close classes too: a class of a
// paused type is never opened (a check per class of an open group, nothing per task), and
// shows as waiting for `paused` instead of any other cause.
//
// Limits (control/limits, master/limits.ts) close classes the same way: a class whose scope is
// full (maxRunning reached, or no token in its bucket) is not opened, and its quota is at most
// the room its scopes leave (a check per class of an open group, nothing per task).
import type { PausedScopes } from '../shared/protocol/control.js';
import type { Limit } from '../shared/protocol/limits.js';
import { Limiter, type LimitCache } from './limits.js';
import { accepts, profileKey, waitingCause, type PolicyWorker, type WaitingKind } from './assignment-policy.js';

interface Profile {
  readonly id: number;
  readonly key: string;
  readonly types?: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** Free slots of the alive workers of this profile (this round, as placements change it). */
  free: number;
}

interface Group<C> {
  readonly key: string;
  readonly acceptors: readonly Profile[];
  readonly classes: Set<C>;
}

/** The gate's cached decision on one class. */
export interface ClassVerdict {
  readonly typed: Set<Profile>;
  readonly typeless: Set<Profile>;
  group: Group<unknown> | null;
  reason?: { version: number; cause: { kind: WaitingKind; text: string } | null };
}

export interface GateClass {
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Entries of the class (what limitedTasks() counts). */
  readonly members?: number;
  /** Set by the gate. */
  verdict?: ClassVerdict;
  /** Its limit scopes, set by the limiter. */
  limits?: LimitCache;
}

/** Classes tested against new profiles between two yields to the event loop. */
const CHUNK = 2000;
const NONE = '';

export class ClassGate<C extends GateClass> {
  private readonly profiles = new Map<string, Profile>();
  private readonly groups = new Map<string, Group<C>>();
  private readonly all = new Set<C>();
  /** Bumped whenever the set of live profiles changes (cached reasons depend on it). */
  private version = 0;
  private nextId = 0;
  private allPaused = false;
  private readonly pausedTypes = new Set<string>();
  /** Room per limit scope (the assigner begins each round on it). */
  readonly limits = new Limiter();
  /** control/limits as last read, until a round applies it. */
  private pendingLimits?: readonly Limit[];

  constructor(private readonly pause: () => Promise<void> = () => Promise.resolve()) {}

  /** Profiles decided against (for tests and logs). */
  get profileCount(): number {
    return this.profiles.size;
  }

  /** What control/paused says now: applied from the next openClasses() on. */
  setPaused(p: PausedScopes): void {
    this.allPaused = p.all !== null;
    this.pausedTypes.clear();
    for (const t of p.types) this.pausedTypes.add(t.type);
  }

  /**
   * What control/limits says now: kept until the next round applies it (applyLimits), right
   * before it counts what is held. Swapped in mid-round, a new scope would start uncounted
   * (in flight 0) while the round goes on placing.
   */
  setLimits(l: readonly Limit[]): void {
    this.pendingLimits = l;
  }

  /** Limits will be active once the pending ones (if any) are applied. */
  get limitsWanted(): boolean {
    return this.pendingLimits ? this.pendingLimits.length > 0 : this.limits.active;
  }

  /** Applies what setLimits() kept (the round counts right after, with no await between). */
  applyLimits(): void {
    if (!this.pendingLimits) return;
    this.limits.set(this.pendingLimits);
    this.pendingLimits = undefined;
  }

  /** Queued tasks of classes some worker takes that a full limit scope holds back (O(classes); metrics). */
  limitedTasks(): number {
    if (!this.limits.active) return 0;
    let n = 0;
    for (const c of this.all) {
      const g = c.verdict?.group;
      if (!g || g.key === NONE || this.isPaused(c.type)) continue;
      if (this.limits.room(c) <= 0) n += c.members ?? 0;
    }
    return n;
  }

  /** Whether the leader may assign nothing of this type now. */
  isPaused(type: string): boolean {
    return this.allPaused || this.pausedTypes.has(type);
  }

  /** Every type is paused: a round places nothing (and reads nothing). */
  get pausedAll(): boolean {
    return this.allPaused;
  }

  /** Classes of a paused type (O(classes)): what status shows as waiting for `paused`. */
  *pausedClasses(): Generator<C> {
    if (!this.allPaused && this.pausedTypes.size === 0) return;
    for (const c of this.all) if (this.isPaused(c.type)) yield c;
  }

  /** A new class: decided against every live profile, once. */
  add(c: C): void {
    const v: ClassVerdict = { typed: new Set(), typeless: new Set(), group: null };
    c.verdict = v;
    for (const p of this.profiles.values()) if (accepts(p, c)) (p.types ? v.typed : v.typeless).add(p);
    this.all.add(c);
    this.place(c);
  }

  /** A class with no entries left. */
  remove(c: C): void {
    this.all.delete(c);
    this.leave(c);
  }

  /**
   * This round's workers (alive ones with known loads): free capacity per profile, and, when
   * the set of live profiles changed, every class re-decided for the profiles that came or went.
   */
  async update(workers: readonly PolicyWorker[]): Promise<void> {
    const seen = new Map<string, { w: PolicyWorker; free: number }>();
    for (const w of workers) {
      if (w.state !== 'alive') continue;
      const k = profileKey(w);
      let e = seen.get(k);
      if (!e) seen.set(k, (e = { w, free: 0 }));
      e.free += Math.max(0, w.capacity - Math.max(0, w.load));
    }
    const added: Profile[] = [];
    const removed: Profile[] = [];
    for (const [k, p] of this.profiles) {
      if (seen.has(k)) continue;
      p.free = 0;
      removed.push(p);
      this.profiles.delete(k);
    }
    for (const [k, e] of seen) {
      let p = this.profiles.get(k);
      if (!p) {
        p = { id: this.nextId++, key: k, labels: { ...e.w.labels }, free: 0, ...(e.w.types ? { types: [...e.w.types] } : {}) };
        this.profiles.set(k, p);
        added.push(p);
      }
      p.free = e.free;
    }
    if (added.length === 0 && removed.length === 0) return;
    this.version++;
    let n = 0;
    for (const c of [...this.all]) {
      const v = c.verdict!;
      let changed = false;
      for (const p of removed) if (v.typed.delete(p) || v.typeless.delete(p)) changed = true;
      for (const p of added) {
        if (!accepts(p, c)) continue;
        (p.types ? v.typed : v.typeless).add(p);
        changed = true;
      }
      if (changed && this.all.has(c)) this.place(c);
      if (++n % CHUNK === 0) await this.pause();
    }
  }

  /** Classes some free worker accepts now (groups with a free acceptor), any order. */
  *openClasses(): Generator<C> {
    if (this.allPaused) return;
    const someTypes = this.pausedTypes.size > 0;
    const limited = this.limits.active;
    for (const g of this.groups.values()) {
      if (g.key === NONE || !g.acceptors.some((p) => p.free > 0)) continue;
      if (!someTypes && !limited) yield* g.classes;
      else for (const c of g.classes) if (!this.pausedTypes.has(c.type) && (!limited || this.limits.room(c) > 0)) yield c;
    }
  }

  /** Free slots of the workers that would take this class: no more of it can be placed now. */
  quota(c: C): number {
    let n = 0;
    for (const p of c.verdict?.group?.acceptors ?? []) n += p.free;
    return Math.min(n, this.limits.room(c));
  }

  /** Classes no live worker can take, with why (the reason cached until the profiles change); paused ones are pausedClasses(). */
  *waiting(): Generator<{ cls: C; reason: string; kind: WaitingKind }> {
    const none = this.groups.get(NONE);
    if (!none) return;
    const live = [...this.profiles.values()].map((p) => ({ types: p.types, labels: p.labels, state: 'alive' }));
    for (const c of none.classes) {
      if (this.isPaused(c.type)) continue;
      const v = c.verdict!;
      if (v.reason?.version !== this.version) v.reason = { version: this.version, cause: waitingCause(c, live) };
      const cause = v.reason.cause;
      if (cause) yield { cls: c, reason: cause.text, kind: cause.kind };
    }
  }

  /** Puts a class in the group of its acceptors: typed ones, else typeless ones. */
  private place(c: C): void {
    const v = c.verdict!;
    const effective = v.typed.size > 0 ? v.typed : v.typeless;
    const key = [...effective].map((p) => p.id).sort((a, b) => a - b).join(',');
    if (v.group?.key === key) return;
    this.leave(c);
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { key, acceptors: [...effective], classes: new Set() }));
    g.classes.add(c);
    v.group = g;
  }

  private leave(c: C): void {
    const g = c.verdict?.group as Group<C> | null | undefined;
    if (!g) return;
    g.classes.delete(c);
    if (g.classes.size === 0) this.groups.delete(g.key);
    c.verdict!.group = null;
  }
}
