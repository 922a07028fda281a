// The client's side of cluster control (rules and znodes: shared/protocol/control.ts): pause
// and resume scopes, ask a worker to drain, and wait for it to leave. The leader and the
// workers learn of each through their watches; these calls return once the request is written.
//
// Requests: pause/resume 1 getData + 1 setData (create on first use; again on a race);
// drain 1 getChildren of workers/ + 1 create; control() 1 getData + 1 getChildren (+ 1
// multiRead when some worker is asked to drain).
import { readControl, removeDrain, requestDrain, updatePaused, withPause, withResume, type ControlState, type PausedScopes } from '../shared/protocol/control.js';
import { assertWorkerId, Paths } from '../shared/protocol/paths.js';
import type { ZkSession } from '../shared/zk/session.js';

export { ControlError, type ControlState, type DrainRequest, type PausedScopes } from '../shared/protocol/control.js';

/** `drain` of a worker id with no live member. */
export class WorkerNotFoundError extends Error {
  override name = 'WorkerNotFoundError';
  constructor(readonly workerId: string) {
    super(`no live worker ${workerId}`);
  }
}

export function pause(session: ZkSession, paths: Paths, opts: { type?: string } = {}): Promise<PausedScopes> {
  const now = Date.now();
  return updatePaused(session, paths, (p) => withPause(p, opts.type, now));
}

/** Without a type: everything resumes (all and every type). With one while all is paused: a ControlError. */
export function resume(session: ZkSession, paths: Paths, opts: { type?: string } = {}): Promise<PausedScopes> {
  return updatePaused(session, paths, (p) => withResume(p, opts.type));
}

export function control(session: ZkSession, paths: Paths): Promise<ControlState> {
  return readControl(session, paths);
}

/** The live members (workerId~incarnation) of a worker id. */
async function membersOf(session: ZkSession, paths: Paths, workerId: string, watcher?: () => void): Promise<string[]> {
  const { children } = await session.retrying(() => session.getChildren(paths.workers, watcher));
  return children.filter((n) => Paths.parseMember(n)?.workerId === workerId);
}

/** Asks a live worker to drain. `requested`: false when a request was there already (kept). */
export async function drain(session: ZkSession, paths: Paths, workerId: string): Promise<{ requested: boolean; members: string[] }> {
  assertWorkerId(workerId);
  const members = await membersOf(session, paths, workerId);
  if (members.length === 0) throw new WorkerNotFoundError(workerId);
  return { requested: await requestDrain(session, paths, workerId), members };
}

/** Takes a pending drain request back; false when there was none. */
export function cancelDrain(session: ZkSession, paths: Paths, workerId: string): Promise<boolean> {
  assertWorkerId(workerId);
  return removeDrain(session, paths, workerId);
}

/** Resolves once no member of `workerId` is alive (a child watch on workers/, re-set after each change). */
export async function waitWorkerGone(session: ZkSession, paths: Paths, workerId: string, signal?: AbortSignal): Promise<void> {
  for (;;) {
    if (signal?.aborted) throw signal.reason;
    let changed!: () => void;
    const next = new Promise<void>((r) => (changed = r));
    if ((await membersOf(session, paths, workerId, () => changed())).length === 0) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal!.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      void next.then(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}
