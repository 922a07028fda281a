// The leader's side of control/limits (shared/protocol/limits.ts): per scope (a task type or a
// label k=v), how many of its tasks are assigned or running and how many tokens its start-rate
// bucket holds, and so how many more of a class may be placed now (`room`).
//
// - In flight: counted at the start of every round from the reconciler's picture (the Held
//   entries of assign/, each with the type and labels the leader learnt when it assigned it or
//   first read its record), O(held) while any limit exists (status shows it for rate-only
//   scopes too): it is exact across failovers since the picture is rebuilt from the znodes. An
//   assignment whose type is not known yet (not made by this leader, its record not read)
//   counts in every scope until read. New limits are applied by the round (ClassGate
//   .applyLimits) right before it counts, never in the middle of one.
// - Tokens: capacity `burst`, refilled at R/s, one taken per task reserved in a round (given
//   back when it was not placed). A new bucket (a takeover, a limit set) starts at
//   capacity − the starts it can see (held attempts assigned in the last capacity/R s), and
//   at a takeover at most what the previous leader published (leader-status: its tokens at
//   the znode's mtime, refilled since): min(capacity − seen, tokens + R·(now − mtime)).
// - A class's scopes are decided once per class per change of the limits (cached on it).
import { classKey, planAssignments, type Placement, type PolicyTask, type PolicyWorker } from './assignment-policy.js';
import { bucketCapacity, scopeKey, splitLabel, type Limit } from '../shared/protocol/limits.js';
import type { Held } from './leader-context.js';

export interface ScopeState {
  readonly key: string;
  readonly limit: Limit;
  readonly capacity: number;
  /** Assigned or running now, as the last round counted them (plus this round's reservations). */
  inFlight: number;
  /** Tokens in the bucket (rate scopes), as of `refilledAt`. */
  tokens: number;
  refilledAt: number;
  /** A class of it was held back for want of a token since the last round began. */
  starved: boolean;
}

interface Classed {
  readonly type: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What a class caches: its scopes as of a version of the limits. */
export interface LimitCache {
  version: number;
  scopes: readonly ScopeState[];
}

/** What the leader publishes of each limit (leader-status). */
export interface LimitReport extends Limit {
  running: number;
  /** Rounded down to 1/100 (exact enough to seed the next leader's bucket, still few rewrites once full). */
  tokens?: number;
}

/** A previous leader's bucket as it published it: its tokens at `at` (the znode's mtime). */
export interface PriorBucket {
  readonly limit: Limit;
  readonly tokens: number;
  readonly at: number;
}

const inScope = (l: Limit, c: Classed): boolean => {
  if ('type' in l.scope) return c.type === l.scope.type;
  const { key, value } = splitLabel(l.scope.label);
  return c.labels[key] === value;
};

/** Keys of classes cached for Held entries at most (cleared beyond: they are re-derived). */
const MAX_CACHED_KEYS = 10_000;

export class Limiter {
  private scopes: ScopeState[] = [];
  private byKey = new Map<string, ScopeState>();
  private version = 0;
  private readonly keyCache = new Map<string, readonly ScopeState[]>();
  /** Held entries' scopes, as of a version. */
  private readonly heldCache = new WeakMap<Held, LimitCache>();
  /** A new bucket waits for the next round's picture to be seeded from the starts it shows. */
  private readonly unseeded = new Set<ScopeState>();

  /** Any limit set: rounds count and check. */
  get active(): boolean {
    return this.scopes.length > 0;
  }
  get list(): readonly ScopeState[] {
    return this.scopes;
  }
  /** control/limits as read: a scope whose rate settings did not change keeps its bucket. */
  set(limits: readonly Limit[]): void {
    const next = new Map<string, ScopeState>();
    for (const limit of limits) {
      const key = scopeKey(limit.scope);
      const old = this.byKey.get(key);
      const capacity = limit.ratePerSec !== undefined ? bucketCapacity(limit) : 0;
      const keep = old && old.limit.ratePerSec === limit.ratePerSec && old.capacity === capacity;
      const s: ScopeState = { key, limit, capacity, inFlight: old?.inFlight ?? 0, tokens: keep ? old.tokens : 0, refilledAt: keep ? old.refilledAt : Date.now(), starved: false };
      if (!keep && limit.ratePerSec !== undefined) this.unseeded.add(s);
      next.set(key, s);
    }
    for (const s of this.unseeded) if (next.get(s.key) !== s) this.unseeded.delete(s);
    this.byKey = next;
    this.scopes = [...next.values()];
    this.version++;
    this.keyCache.clear();
  }

  /** The scopes a class is in (cached on the class until the limits change). */
  scopesOf(c: Classed & { limits?: LimitCache }): readonly ScopeState[] {
    if (c.limits?.version === this.version) return c.limits.scopes;
    const scopes = this.scopes.filter((s) => inScope(s.limit, c));
    c.limits = { version: this.version, scopes };
    return scopes;
  }

  /** The scopes of a task's type and labels (a read task, a held one): cached by class key. */
  scopesFor(c: Classed): readonly ScopeState[] {
    if (!this.active) return [];
    const k = classKey(c.type, c.labels);
    let s = this.keyCache.get(k);
    if (!s) {
      if (this.keyCache.size >= MAX_CACHED_KEYS) this.keyCache.clear();
      this.keyCache.set(k, (s = this.scopes.filter((x) => inScope(x.limit, c))));
    }
    return s;
  }

  /**
   * A round begins: tokens refilled, new buckets seeded (`prior`: the previous leader's
   * published buckets, by scope key), tasks in flight counted from what is held (`unknown`:
   * assignments whose type is not known, counted in every scope). O(held) while a limit exists.
   */
  beginRound(held: Iterable<Held>, unknown: number, now = Date.now(), prior?: ReadonlyMap<string, PriorBucket>): void {
    if (!this.active) return;
    for (const s of this.scopes) {
      s.inFlight = unknown;
      s.starved = false;
      if (this.unseeded.has(s)) s.tokens = s.capacity;
      else this.refill(s, now);
    }
    // Held entries of unknown type: counted once here, added to every scope once below (not scopes × entries).
    let untyped = 0;
    for (const h of held) {
      if (h.type === undefined) {
        untyped++;
        continue;
      }
      const scopes = this.heldScopes(h);
      for (const s of scopes) {
        s.inFlight++;
        // A start it can see within the window a full bucket covers: one token fewer.
        if (this.unseeded.has(s) && h.assignedAt !== undefined && now - h.assignedAt < (s.capacity / s.limit.ratePerSec!) * 1000) s.tokens--;
      }
    }
    if (untyped > 0) for (const s of this.scopes) s.inFlight += untyped;
    for (const s of this.unseeded) {
      // The previous leader's bucket, refilled since it published it (same settings only): its
      // starts that finished before this round are not held, so not seen above.
      const p = prior?.get(s.key);
      if (p && p.limit.ratePerSec === s.limit.ratePerSec && bucketCapacity(p.limit) === s.capacity) {
        s.tokens = Math.min(s.tokens, p.tokens + (Math.max(0, now - p.at) / 1000) * s.limit.ratePerSec!);
      }
      s.tokens = Math.max(0, s.tokens);
      s.refilledAt = now;
    }
    this.unseeded.clear();
  }

  /** How many more of a class may be placed now: the least room of its scopes (Infinity: none). */
  room(c: Classed & { limits?: LimitCache }): number {
    if (!this.active) return Infinity;
    return this.roomOf(this.scopesOf(c), true);
  }

  /** Takes room for one task of these scopes (a token from each rate scope); false when one has none. */
  reserve(scopes: readonly ScopeState[]): boolean {
    if (scopes.length === 0) return true;
    if (this.roomOf(scopes, true) < 1) return false;
    for (const s of scopes) {
      s.inFlight++;
      if (s.limit.ratePerSec !== undefined) s.tokens--;
    }
    return true;
  }

  /** Gives back what reserve() took (the task was not placed). */
  unreserve(scopes: readonly ScopeState[]): void {
    for (const s of scopes) {
      s.inFlight--;
      if (s.limit.ratePerSec !== undefined) s.tokens = Math.min(s.capacity, s.tokens + 1);
    }
  }

  /** When the next token comes for a scope that held a class back for want of one (ms from now), or null. */
  nextTokenInMs(now = Date.now()): number | null {
    let best: number | null = null;
    for (const s of this.scopes) {
      if (!s.starved || s.limit.ratePerSec === undefined) continue;
      this.refill(s, now);
      const ms = s.tokens >= 1 ? 0 : ((1 - s.tokens) / s.limit.ratePerSec) * 1000;
      if (best === null || ms < best) best = ms;
    }
    return best;
  }

  /** What leader-status shows: the first `max` limits (control/limits' order), buckets refilled to now. */
  report(max = Infinity, now = Date.now()): LimitReport[] {
    return this.scopes.slice(0, max).map((s) => {
      if (!this.unseeded.has(s)) this.refill(s, now);
      return {
        ...s.limit,
        running: Math.max(0, s.inFlight),
        ...(s.limit.ratePerSec !== undefined ? { tokens: Math.floor(Math.max(0, s.tokens) * 100) / 100 } : {}),
      };
    });
  }

  private heldScopes(h: Held): readonly ScopeState[] {
    const c = this.heldCache.get(h);
    if (c?.version === this.version) return c.scopes;
    const scopes = this.scopesFor({ type: h.type!, labels: h.labels ?? {} });
    this.heldCache.set(h, { version: this.version, scopes });
    return scopes;
  }

  private roomOf(scopes: readonly ScopeState[], markStarved: boolean): number {
    let room = Infinity;
    for (const s of scopes) {
      if (s.limit.maxRunning !== undefined) room = Math.min(room, s.limit.maxRunning - s.inFlight);
      if (s.limit.ratePerSec !== undefined) {
        const t = Math.floor(s.tokens);
        if (t < 1 && markStarved) s.starved = true;
        room = Math.min(room, t);
      }
    }
    return Math.max(0, room);
  }

  private refill(s: ScopeState, now: number): void {
    const r = s.limit.ratePerSec;
    if (r === undefined) return;
    s.tokens = Math.min(s.capacity, s.tokens + (Math.max(0, now - s.refilledAt) / 1000) * r);
    s.refilledAt = now;
  }
}

/** planAssignments over the tasks the limits have room for: room taken per task, given back for those not placed. */
export function planWithin<T extends PolicyTask & Classed>(limits: Limiter, tasks: readonly T[], workers: readonly PolicyWorker[]): Array<Placement<T>> {
  if (!limits.active) return planAssignments(tasks, workers);
  const allowed = tasks.filter((t) => limits.reserve(limits.scopesFor(t)));
  const got = planAssignments(allowed, workers);
  if (got.length < allowed.length) {
    const placed = new Set(got.map((p) => p.task));
    for (const t of allowed) if (!placed.has(t)) limits.unreserve(limits.scopesFor(t));
  }
  return got;
}
