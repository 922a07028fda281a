// Cluster control, the rules of its znodes kept once (paths: paths.ts):
//
//   control/paused             {format, all: {since} | null, types: [{type, since}]}: the scopes the
//                              leader assigns nothing of. One small znode, its data the scopes (task
//                              types may hold `/`, so not a znode per type), changed only by
//                              updatePaused: read, change, setData at the read version (create if
//                              absent), again on a race, so two `drover pause` at once both land.
//   control/drain/<workerId>   {requestedAt}: that worker finishes what it runs, takes no more and
//                              leaves, removing the request as it goes.
//
// Roots made by older drovers have no control/: it is made on first use, and readers take a
// missing node as "nothing paused, nobody draining". Writes are idempotent (pause a type twice:
// once), so one whose reply was lost is simply done again.
import { BadVersionError, ConnectionLossError, NoNodeError, NodeExistsError } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';
import { assertWorkerId, type Paths } from './paths.js';
import { TASK_TYPE_RE } from './task-record.js';

export const CONTROL_FORMAT = 1;
/** Types paused one by one at most: keeps control/paused ~130 KB at worst (types are ≤ 100 characters). */
export const MAX_PAUSED_TYPES = 1000;

export interface PausedScopes {
  /** Every type is paused, since then (ms). */
  all: { since: number } | null;
  /** Types paused one by one, in the order they were paused. */
  types: Array<{ type: string; since: number }>;
}

export interface DrainRequest {
  workerId: string;
  requestedAt: number;
}

/** What is paused and who is asked to drain. */
export interface ControlState {
  paused: PausedScopes;
  drains: DrainRequest[];
}

/** A control request that cannot be done as asked (one line for the CLI, exit 1). */
export class ControlError extends Error {
  override name = 'ControlError';
}

export const NOTHING_PAUSED: PausedScopes = Object.freeze({ all: null, types: [] }) as PausedScopes;

export function assertTaskType(type: unknown): asserts type is string {
  if (typeof type !== 'string' || !TASK_TYPE_RE.test(type)) throw new ControlError(`invalid task type ${JSON.stringify(type)}: use 1-100 characters of A-Z a-z 0-9 _ . : / -`);
}

export function encodePaused(p: PausedScopes): Buffer {
  return Buffer.from(JSON.stringify({ format: CONTROL_FORMAT, all: p.all, types: p.types }));
}

/** Tolerant: what is not a well-formed scope is left out (an unreadable node pauses nothing; the next pause rewrites it). */
export function decodePaused(data: Buffer | undefined): PausedScopes {
  if (!data || data.length === 0) return NOTHING_PAUSED;
  let v: { all?: unknown; types?: unknown };
  try {
    v = JSON.parse(data.toString('utf8')) as typeof v;
  } catch {
    return NOTHING_PAUSED;
  }
  const since = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  const all = v.all && typeof v.all === 'object' ? { since: since((v.all as { since?: unknown }).since) } : null;
  const types: PausedScopes['types'] = [];
  if (Array.isArray(v.types)) {
    for (const t of v.types as Array<{ type?: unknown; since?: unknown }>) {
      if (t && typeof t.type === 'string' && TASK_TYPE_RE.test(t.type)) types.push({ type: t.type, since: since(t.since) });
    }
  }
  return { all, types };
}

export function isPaused(p: PausedScopes, type: string): boolean {
  return p.all !== null || p.types.some((t) => t.type === type);
}

/** The pure changes updatePaused applies: pause all or a type; resume all (everything) or a type. */
export function withPause(p: PausedScopes, type: string | undefined, now: number): PausedScopes {
  if (type === undefined) return p.all ? p : { ...p, all: { since: now } };
  assertTaskType(type);
  if (p.types.some((t) => t.type === type)) return p;
  if (p.types.length >= MAX_PAUSED_TYPES) throw new ControlError(`${MAX_PAUSED_TYPES} types are paused one by one already: resume some, or pause all`);
  return { ...p, types: [...p.types, { type, since: now }] };
}

/**
 * Resume without a type clears every scope. With a type while all types are paused it is
 * refused (nothing changes): "all but T" is not a scope; resume all, then pause what should stay paused.
 */
export function withResume(p: PausedScopes, type: string | undefined): PausedScopes {
  if (type === undefined) return NOTHING_PAUSED;
  assertTaskType(type);
  if (p.all) throw new ControlError(`all task types are paused: \`resume\` without --type resumes everything (then pause what should stay paused)`);
  return { ...p, types: p.types.filter((t) => t.type !== type) };
}

/** Reads control/paused (nothing paused when it is absent). */
export async function readPaused(session: ZkSession, paths: Paths): Promise<{ paused: PausedScopes; version: number }> {
  try {
    const { data, stat } = await session.retrying(() => session.getData(paths.controlPaused));
    return { paused: decodePaused(data), version: stat.version };
  } catch (err) {
    if (err instanceof NoNodeError) return { paused: NOTHING_PAUSED, version: -1 };
    throw err;
  }
}

/** Reads the drain requests: one listing and one multiRead of their data. */
export async function readDrains(session: ZkSession, paths: Paths): Promise<DrainRequest[]> {
  let names: string[];
  try {
    names = (await session.retrying(() => session.getChildren(paths.controlDrain))).children;
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
  if (names.length === 0) return [];
  const got = await session.retrying(() => session.getDataMany(names.map((n) => `${paths.controlDrain}/${n}`)));
  const out: DrainRequest[] = [];
  names.forEach((workerId, i) => {
    const r = got[i]!;
    if (!r.ok) return; // removed meanwhile: the worker left
    let requestedAt = 0;
    try {
      requestedAt = Number((JSON.parse(r.data.toString('utf8')) as { requestedAt?: unknown }).requestedAt) || 0;
    } catch {
      /* unreadable data: still a request */
    }
    out.push({ workerId, requestedAt });
  });
  return out.sort((a, b) => (a.workerId < b.workerId ? -1 : 1));
}

export async function readControl(session: ZkSession, paths: Paths): Promise<ControlState> {
  const [{ paused }, drains] = await Promise.all([readPaused(session, paths), readDrains(session, paths)]);
  return { paused, drains };
}

/**
 * Creates `path` under control/, making control/ (and control/drain/) when missing with plain
 * creates: the root must exist. A client holding paths from before a destroy must not make
 * `<root>/control/...` again (an orphan no command sees): refused in one line.
 */
export async function createControlNode(session: ZkSession, paths: Paths, path: string, data: Buffer): Promise<void> {
  try {
    await session.create(path, data);
  } catch (err) {
    if (!(err instanceof NoNodeError)) throw err;
    const dirs = path.startsWith(`${paths.controlDrain}/`) ? [paths.control, paths.controlDrain] : [paths.control];
    for (const dir of dirs) {
      try {
        await session.create(dir);
      } catch (e) {
        if (e instanceof NoNodeError) throw new ControlError(`no drover cluster under ${paths.root || '/'} (its root is gone)`);
        if (!(e instanceof NodeExistsError)) throw e;
      }
    }
    await session.create(path, data);
  }
}

/**
 * Applies `change` to control/paused: a versioned setData (create when absent), the read and
 * the write again on a race or a lost reply (changes are idempotent). Returns what it wrote.
 */
export async function updatePaused(session: ZkSession, paths: Paths, change: (cur: PausedScopes) => PausedScopes): Promise<PausedScopes> {
  const read = async () => {
    const { paused, version } = await readPaused(session, paths);
    return { value: paused, version };
  };
  return updateControlNode(session, paths, { path: paths.controlPaused, read, encode: encodePaused, same: (a, b) => a === b }, change);
}

/** A JSON node under control/ that updateControlNode changes: where, how it is read and written, when a change is none. */
export interface ControlNode<T> {
  path: string;
  /** Its value and version (-1: absent). */
  read(): Promise<{ value: T; version: number }>;
  encode(value: T): Buffer;
  same(next: T, cur: T): boolean;
}

/**
 * The one compare-and-set loop of a control/ node (paused, limits): read, change, a versioned
 * setData (create when absent), the read and the write again on a race or a lost reply
 * (changes are idempotent). Returns what it wrote.
 */
export async function updateControlNode<T>(session: ZkSession, paths: Paths, node: ControlNode<T>, change: (cur: T) => T): Promise<T> {
  for (let tries = 0; tries < 50; tries++) {
    const { value, version } = await node.read();
    const next = change(value);
    if (node.same(next, value)) return value;
    try {
      if (version < 0) await createControlNode(session, paths, node.path, node.encode(next));
      else await session.setData(node.path, node.encode(next), version);
      return next;
    } catch (err) {
      if (err instanceof ConnectionLossError) await session.waitConnected().catch(() => undefined);
      else if (!(err instanceof BadVersionError || err instanceof NodeExistsError || err instanceof NoNodeError)) throw err;
    }
  }
  throw new ControlError(`${node.path.slice(paths.root.length + 1)} kept changing; gave up after 50 tries`);
}

/** Writes a drain request for `workerId` (one already there is kept, with its time). True when this call made it. */
export async function requestDrain(session: ZkSession, paths: Paths, workerId: string, now = Date.now()): Promise<boolean> {
  assertWorkerId(workerId);
  try {
    await createControlNode(session, paths, paths.drainRequest(workerId), Buffer.from(JSON.stringify({ requestedAt: now })));
    return true;
  } catch (err) {
    if (err instanceof NodeExistsError) return false;
    throw err;
  }
}

/** Removes a drain request; false when there was none. */
export async function removeDrain(session: ZkSession, paths: Paths, workerId: string): Promise<boolean> {
  try {
    await session.remove(paths.drainRequest(workerId));
    return true;
  } catch (err) {
    if (err instanceof NoNodeError) return false;
    throw err;
  }
}

/** The worker id a path under control/drain/ names, or null (a tree watch's event path). */
export function drainOf(paths: Paths, path: string): string | null {
  const prefix = `${paths.controlDrain}/`;
  if (!path.startsWith(prefix)) return null;
  const id = path.slice(prefix.length);
  return id && !id.includes('/') ? id : null;
}
