// Cluster-wide limits per task type or label, the rules of control/limits kept once (path:
// Paths.controlLimits; the leader enforces them, master/limits.ts):
//
//   control/limits   {format: 1, limits: [{scope: {type} | {label: 'k=v'}, maxRunning?, ratePerSec?, burst?}]}
//
// One small znode (≤ MAX_LIMITS scopes, ~200 bytes each), changed only by updateLimits: read,
// change, setData at the read version (create when absent, making control/ on first use),
// again on a race. Readers take a missing or unreadable node as "no limits". A task is in a
// scope when its type is the scope's type, or its labels hold the scope's k=v.
import { NoNodeError } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';
import { assertTaskType, ControlError, updateControlNode } from './control.js';
import type { Paths } from './paths.js';

export const LIMITS_FORMAT = 1;
/** Scopes at most: keeps control/limits ~200 KB at worst and a class's scope check small. */
export const MAX_LIMITS = 1000;
const MAX_RATE = 1_000_000;
const MAX_LABEL_CHARS = 200;

export type LimitScope = { type: string } | { label: string };

export interface LimitSettings {
  /** At most this many tasks of the scope assigned or running across the cluster. */
  maxRunning?: number;
  /** At most this many started per second (a token bucket the leader keeps). */
  ratePerSec?: number;
  /** The bucket's capacity (default max(1, ceil(ratePerSec))). */
  burst?: number;
}

export interface Limit extends LimitSettings {
  scope: LimitScope;
}

/** One string per scope: `type:T` or `label:k=v` (a scope's identity in maps and output). */
export function scopeKey(s: LimitScope): string {
  return 'type' in s ? `type:${s.type}` : `label:${s.label}`;
}

/** The label scope's key and value. */
export function splitLabel(label: string): { key: string; value: string } {
  const i = label.indexOf('=');
  return { key: label.slice(0, i), value: label.slice(i + 1) };
}

export function assertScope(s: unknown): asserts s is LimitScope {
  if (!s || typeof s !== 'object') throw new ControlError('a limit needs a scope: a task type or a label k=v');
  const o = s as { type?: unknown; label?: unknown };
  if ((o.type === undefined) === (o.label === undefined)) throw new ControlError('a limit scope is a task type or a label k=v, not both');
  if (o.type !== undefined) return assertTaskType(o.type);
  const l = o.label;
  if (typeof l !== 'string' || l.length > MAX_LABEL_CHARS || l.indexOf('=') < 1) throw new ControlError(`invalid label scope ${JSON.stringify(l)}: use k=v (a non-empty key, at most ${MAX_LABEL_CHARS} characters)`);
}

/** Checked settings (a ControlError says what is wrong); at least one limit. */
export function checkSettings(s: LimitSettings): LimitSettings {
  const out: LimitSettings = {};
  if (s.maxRunning !== undefined) {
    if (!Number.isInteger(s.maxRunning) || s.maxRunning < 0) throw new ControlError(`maxRunning must be an integer ≥ 0, not ${s.maxRunning}`);
    out.maxRunning = s.maxRunning;
  }
  if (s.ratePerSec !== undefined) {
    if (typeof s.ratePerSec !== 'number' || !(s.ratePerSec > 0) || s.ratePerSec > MAX_RATE) throw new ControlError(`ratePerSec must be a number > 0 and ≤ ${MAX_RATE}, not ${s.ratePerSec}`);
    out.ratePerSec = s.ratePerSec;
  }
  if (s.burst !== undefined) {
    if (out.ratePerSec === undefined) throw new ControlError('burst needs ratePerSec');
    if (!Number.isInteger(s.burst) || s.burst < 1 || s.burst > MAX_RATE) throw new ControlError(`burst must be an integer ≥ 1, not ${s.burst}`);
    out.burst = s.burst;
  }
  if (out.maxRunning === undefined && out.ratePerSec === undefined) throw new ControlError('a limit needs maxRunning or ratePerSec');
  return out;
}

/** The bucket's capacity: burst, or max(1, ceil(rate)). */
export function bucketCapacity(l: LimitSettings): number {
  return l.burst ?? Math.max(1, Math.ceil(l.ratePerSec ?? 1));
}

export function encodeLimits(limits: readonly Limit[]): Buffer {
  return Buffer.from(JSON.stringify({ format: LIMITS_FORMAT, limits }));
}

/** Tolerant: what is not a well-formed limit is left out (the next set rewrites the node). */
export function decodeLimits(data: Buffer | undefined): Limit[] {
  if (!data || data.length === 0) return [];
  let v: { limits?: unknown };
  try {
    v = JSON.parse(data.toString('utf8')) as typeof v;
  } catch {
    return [];
  }
  if (!Array.isArray(v.limits)) return [];
  const out: Limit[] = [];
  const seen = new Set<string>();
  for (const l of v.limits as Array<Partial<Limit>>) {
    try {
      assertScope(l?.scope);
      const scope: LimitScope = 'type' in l.scope ? { type: l.scope.type } : { label: l.scope.label };
      if (seen.has(scopeKey(scope))) continue;
      seen.add(scopeKey(scope));
      out.push({ scope, ...checkSettings(l) });
    } catch {
      /* not a limit: skipped */
    }
  }
  return out;
}

/** Sets (replaces) the scope's limits; pure. */
export function withLimit(limits: readonly Limit[], scope: LimitScope, settings: LimitSettings): Limit[] {
  assertScope(scope);
  const l: Limit = { scope: 'type' in scope ? { type: scope.type } : { label: scope.label }, ...checkSettings(settings) };
  const k = scopeKey(scope);
  const i = limits.findIndex((x) => scopeKey(x.scope) === k);
  if (i < 0 && limits.length >= MAX_LIMITS) throw new ControlError(`${MAX_LIMITS} limits are set already: remove some first`);
  return i < 0 ? [...limits, l] : limits.map((x, j) => (j === i ? l : x));
}

export function withoutLimit(limits: readonly Limit[], scope: LimitScope): Limit[] {
  assertScope(scope);
  const k = scopeKey(scope);
  return limits.filter((x) => scopeKey(x.scope) !== k);
}

/** Reads control/limits (none when absent): 1 getData. */
export async function readLimits(session: ZkSession, paths: Paths): Promise<{ limits: Limit[]; version: number }> {
  try {
    const { data, stat } = await session.retrying(() => session.getData(paths.controlLimits));
    return { limits: decodeLimits(data), version: stat.version };
  } catch (err) {
    if (err instanceof NoNodeError) return { limits: [], version: -1 };
    throw err;
  }
}

/** Applies `change`: a versioned setData (create when absent), again on a race or a lost reply (control.ts). Returns what it wrote. */
export async function updateLimits(session: ZkSession, paths: Paths, change: (cur: Limit[]) => Limit[]): Promise<Limit[]> {
  const read = async () => {
    const { limits, version } = await readLimits(session, paths);
    return { value: limits, version };
  };
  const same = (a: Limit[], b: Limit[]) => JSON.stringify(a) === JSON.stringify(b);
  return updateControlNode(session, paths, { path: paths.controlLimits, read, encode: encodeLimits, same }, change);
}
