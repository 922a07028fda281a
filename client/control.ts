// The client's side of cluster control (rules and znodes: shared/protocol/control.ts): pause
// and resume scopes, ask a worker to drain, and wait for it to leave. The leader and the
// workers learn of each through their watches; these calls return once the request is written.
//
// Requests: pause/resume 1 getData + 1 setData (create on first use; again on a race);
// drain 1 getChildren of workers/ + 1 multiRead of its members' data + 1 create; cancelDrain 1 delete + 1 getChildren (+ 1
// multiRead of its members' data); control() 1 getData + 1 getChildren (+ 1 multiRead when
// some worker is asked to drain); waitWorkerGone 1 getChildren per change of workers/ (+ with
// processes, 1 multiRead of the id's members it has not read yet).
import { assertTaskType, ControlError, readControl, removeDrain, requestDrain, updatePaused, withPause, withResume, type ControlState, type PausedScopes } from '../shared/protocol/control.js';
import { assertWorkerId, Paths } from '../shared/protocol/paths.js';
import { ConnectionLossError, SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';
import { parseMemberInfo } from '../shared/zk/membership.js';
import type { ZkSession } from '../shared/zk/session.js';

export { ControlError, type ControlState, type DrainRequest, type PausedScopes } from '../shared/protocol/control.js';

/** `drain` of a worker id with no live member. */
export class WorkerNotFoundError extends Error {
  override name = 'WorkerNotFoundError';
  constructor(readonly workerId: string) {
    super(`no live worker ${workerId}`);
  }
}

/** `type`: one type or several (all paused in one write); none: pause all. */
export function pause(session: ZkSession, paths: Paths, opts: { type?: string | readonly string[] } = {}): Promise<PausedScopes> {
  const now = Date.now();
  const types = typesOf(opts.type);
  return updatePaused(session, paths, (p) => (types ? types.reduce((q, t) => withPause(q, t, now), p) : withPause(p, undefined, now)));
}

/** Without a type: everything resumes (all and every type). With types while all is paused: a ControlError. */
export function resume(session: ZkSession, paths: Paths, opts: { type?: string | readonly string[] } = {}): Promise<PausedScopes> {
  const types = typesOf(opts.type);
  return updatePaused(session, paths, (p) => (types ? types.reduce((q, t) => withResume(q, t), p) : withResume(p, undefined)));
}

/** undefined: no type given (all); else the types, each checked (a ControlError names a bad one). */
function typesOf(type: string | readonly string[] | undefined): readonly string[] | undefined {
  if (type === undefined) return undefined;
  const types = typeof type === 'string' ? [type] : type;
  if (types.length === 0) throw new ControlError('no task type given');
  for (const t of types) assertTaskType(t);
  return types;
}

export function control(session: ZkSession, paths: Paths): Promise<ControlState> {
  return readControl(session, paths);
}

/** The live members (workerId~incarnation) of a worker id. */
async function membersOf(session: ZkSession, paths: Paths, workerId: string, watcher?: () => void): Promise<string[]> {
  const { children } = await session.retrying(() => session.getChildren(paths.workers, watcher));
  return children.filter((n) => Paths.parseMember(n)?.workerId === workerId);
}

/** A member's process: its host, pid and registration time (kept across the re-registrations of an expiry). */
export interface MemberProcess {
  host: string;
  pid: number;
  since: number;
}

const processKey = (p: MemberProcess) => `${p.host}\0${p.pid}\0${p.since}`;

/** What drain() asked: `requested` false when a request was there already (kept). */
export interface DrainResult {
  requested: boolean;
  members: string[];
  /** The members' processes (their member data), for waitWorkerGone. */
  processes: MemberProcess[];
}

/** The processes of members (1 multiRead); a member gone meanwhile has none. */
async function processesOf(session: ZkSession, paths: Paths, members: readonly string[], retry = true): Promise<Map<string, MemberProcess | null>> {
  const out = new Map<string, MemberProcess | null>();
  if (members.length === 0) return out;
  const read = () => session.getDataMany(members.map((m) => paths.member(m)));
  const got = await (retry ? session.retrying(read) : read());
  members.forEach((m, i) => {
    const r = got[i]!;
    const info = r.ok ? parseMemberInfo(m, r.data) : null;
    out.set(m, info ? { host: info.host, pid: info.pid, since: info.since } : null);
  });
  return out;
}

/** Asks a live worker to drain. */
export async function drain(session: ZkSession, paths: Paths, workerId: string): Promise<DrainResult> {
  assertWorkerId(workerId);
  const members = await membersOf(session, paths, workerId);
  if (members.length === 0) throw new WorkerNotFoundError(workerId);
  const processes = [...(await processesOf(session, paths, members)).values()].filter((p): p is MemberProcess => p !== null);
  return { requested: await requestDrain(session, paths, workerId), members, processes };
}

/**
 * Takes a pending drain request back. `removed`: false when there was none. `draining`: its
 * members already draining (they saw it, or a signal stopped them): their stop cannot be
 * undone, they leave anyway. Removed first, then the states read: a member that saw the
 * request has its state 'draining' written by then, but for one still writing it.
 */
export async function cancelDrain(session: ZkSession, paths: Paths, workerId: string): Promise<{ removed: boolean; draining: string[] }> {
  assertWorkerId(workerId);
  // NO_NODE on a try after the first: that first (its reply lost) may have removed it: ours.
  let tries = 0;
  const removed = await session.retrying(async () => {
    tries += 1;
    return (await removeDrain(session, paths, workerId)) || tries > 1;
  });
  const members = await membersOf(session, paths, workerId);
  if (members.length === 0) return { removed, draining: [] };
  const got = await session.retrying(() => session.getDataMany(members.map((m) => paths.member(m))));
  const draining = members.filter((m, i) => {
    const r = got[i]!;
    return r.ok && parseMemberInfo(m, r.data).state === 'draining';
  });
  return { removed, draining };
}

export interface WaitGoneOptions {
  /** The members (workerId~incarnation) to wait for; default: those of the worker id alive at the first listing (a later start of the id is not waited for). */
  members?: readonly string[];
  /**
   * Their processes (drain()'s): a member of the id registered later by one of them (after a
   * session expiry: the same process, still draining) is waited for too.
   */
  processes?: readonly MemberProcess[];
  signal?: AbortSignal;
  /** ZooKeeper away (disconnected, or its session lost) this long: rejects with ConnectionLossError. */
  reconnectTimeoutMs: number;
}

/**
 * Resolves once none of the members is alive. One child watch on workers/, re-set after each
 * change; and (the rule of client/waiters.ts) ZooKeeper away is no answer: the listing is
 * done again at 'connected' (the same session, or a new one after an expiry), and a loss
 * lasting reconnectTimeoutMs from its start rejects with ConnectionLossError.
 * Requests: 1 getChildren per change of workers/ and per reconnect (+ 1 multiRead of new
 * members of the id, with processes).
 */
export function waitWorkerGone(session: ZkSession, paths: Paths, workerId: string, opts: WaitGoneOptions): Promise<void> {
  assertWorkerId(workerId);
  const { signal, reconnectTimeoutMs: ms } = opts;
  return new Promise<void>((resolve, reject) => {
    let wanted: Set<string> | null = opts.members ? new Set(opts.members) : null;
    const procs = new Set((opts.processes ?? []).map(processKey));
    /** Process key of each member name read (null: gone when read); a name is never reused. */
    const seen = new Map<string, string | null>();
    let done = false;
    let lostTimer: NodeJS.Timeout | undefined;
    /** Bumped per listing: a watch or reply of an older one is ignored. */
    let gen = 0;
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(lostTimer);
      session.off('state', onState);
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err);
    };
    const away = () => {
      if (lostTimer || done) return;
      lostTimer = setTimeout(() => {
        if (session.state !== 'connected') finish(new ConnectionLossError('CONNECTION_LOSS', `not connected to ZooKeeper within ${ms} ms`));
        lostTimer = undefined;
      }, ms);
    };
    const list = async () => {
      if (done) return;
      const mine = ++gen;
      try {
        const { children } = await session.getChildren(paths.workers, () => mine === gen && void list());
        if (done || mine !== gen) return;
        const ofId = children.filter((n) => Paths.parseMember(n)?.workerId === workerId);
        if (!wanted) wanted = new Set(ofId);
        if (ofId.some((n) => wanted!.has(n))) return;
        if (procs.size > 0) {
          // Members not asked by name: read once each, waited for if one of the processes made them.
          const unread = ofId.filter((n) => !seen.has(n));
          for (const [n, p] of await processesOf(session, paths, unread, false)) seen.set(n, p ? processKey(p) : null);
          if (done || mine !== gen) return;
          if (ofId.some((n) => procs.has(seen.get(n) ?? ''))) return;
        }
        finish();
      } catch (err) {
        if (done) return;
        // Away: the listing is done again once ZooKeeper is back (onState).
        if (!(err instanceof ConnectionLossError || err instanceof SessionExpiredError)) return finish(err);
        // Back already (its 'connected' came before this reply): list again shortly.
        if (session.state === 'connected') setTimeout(() => mine === gen && void list(), 250);
        else away();
      }
    };
    const onState = (s: string) => {
      if (s === 'connected') {
        clearTimeout(lostTimer);
        lostTimer = undefined;
        void list();
      } else if (s === 'closed') finish(new SessionClosedError('SESSION_CLOSED', 'session closed while waiting'));
      else away();
    };
    const onAbort = () => finish(signal!.reason);
    if (signal?.aborted) return finish(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    session.on('state', onState);
    if (session.state !== 'connected') away();
    void list();
  });
}
