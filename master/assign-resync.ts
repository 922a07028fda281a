// Reading assign/ into the leader's mirror (HeldIndex) when events may have been missed: at
// takeover, after every reconnect and new session (the tree watch's onReset). One listing of
// assign/, the directories in a few getChildrenMany, the assignments the mirror lacks in a few
// getDataMany, then a diff. Also the read of assignments created that we did not record (unread).
import { Paths } from '../shared/protocol/paths.js';
import type { AssignmentData } from '../shared/protocol/task-ops.js';
import type { Logger } from '../shared/log.js';
import type { ZkSession } from '../shared/zk/session.js';
import { HeldIndex } from './held-index.js';
import { listAssignDirs, readAssignments } from './held-reads.js';
import type { Held } from './leader-context.js';

export interface ResyncDeps {
  session: ZkSession;
  paths: Paths;
  log: Logger;
  index: HeldIndex;
  /** In the membership view now. */
  isLive(member: string): boolean;
  /** Children its directory is expected to hold (sizes the listing requests). */
  expectedLoad(member: string): number;
  timeoutGraceMs: number;
  /** The reconciler is closed: a resync under way reads no further. */
  closed(): boolean;
}

/** What an assignment node says we need: its deadline (with the grace of a deadline we did not set) and its record's size. */
export function heldFrom(member: string, name: string, data: Buffer | null, graceMs: number, now = Date.now()): Held | null {
  const parsed = Paths.parseAssignment(name);
  if (!parsed) return null;
  let deadline: number | null = null;
  let recordBytes: number | undefined;
  if (data) {
    try {
      const a = JSON.parse(data.toString('utf8')) as Partial<AssignmentData>;
      deadline = typeof a.deadline === 'number' ? a.deadline : null;
      if (typeof a.recordBytes === 'number') recordBytes = a.recordBytes;
    } catch {
      /* a damaged assignment body: no deadline known; the record still decides */
    }
  }
  // A deadline we did not set (an earlier leader's): we did not watch it pass. Give the
  // worker a grace from now to be seen gone (uncounted) before a take-back counts.
  if (deadline !== null) deadline = Math.max(deadline, now + graceMs);
  return { member, taskId: parsed.taskId, attempt: parsed.attempt, deadline, ...(recordBytes !== undefined ? { recordBytes } : {}) };
}

/**
 * The whole of assign/ diffed into the mirror. Returns whether each listed member that the
 * view lacks still has its member node (the view can lag a registration: a member is gone
 * only once its node is, never to return, since its name holds its session).
 */
export async function resyncAssignments(d: ResyncDeps): Promise<Map<string, boolean>> {
  const { session, paths, index } = d;
  const touched = index.track();
  try {
    const { children: members } = await session.retrying(() => session.getChildren(paths.assign));
    if (d.closed()) return new Map();
    const unknown = members.filter((m) => !d.isLive(m));
    const [listed, alive] = await Promise.all([
      listAssignDirs(session, paths, members, (m) => d.expectedLoad(m)),
      Promise.all(unknown.map(async (m) => [m, (await session.retrying(() => session.exists(paths.member(m)))) !== null] as const)),
    ]);
    const live = new Map(alive);
    if (d.closed()) return live;
    const fresh: Array<{ member: string; name: string }> = [];
    let unparseable = 0;
    for (const [member, names] of listed) {
      const have = index.dir(member);
      for (const name of names ?? []) {
        if (have?.has(name)) continue;
        if (Paths.parseAssignment(name)) fresh.push({ member, name });
        else if (unparseable++ === 0) d.log.warn({ member, name }, 'unparseable assignment name; ignoring it');
      }
    }
    // Gone members' too: a take-back packs its record reads by the sizes they give.
    const read = new Map<string, Held>();
    const data = await readAssignments(session, fresh.map((f) => paths.assignmentAt(f.member, f.name)));
    const now = Date.now();
    fresh.forEach((f, i) => {
      const r = data[i]!;
      // Not ok: gone meanwhile (its deletion is an event, touched).
      const h = r.ok ? heldFrom(f.member, f.name, r.data, d.timeoutGraceMs, now) : null;
      if (h) read.set(HeldIndex.key(f.member, f.name), h);
    });
    index.applySnapshot(listed, read, touched);
    if (unparseable > 1) d.log.warn({ count: unparseable }, 'unparseable assignment names ignored');
    return live;
  } finally {
    index.untrack(touched);
  }
}

/**
 * Reads the assignments created that the mirror lacks (not made by us, or made by a write
 * whose outcome we did not learn). Each stays unread, counted in its member's load, until
 * its read is applied (or its deletion comes).
 */
export async function readUnread(d: ResyncDeps): Promise<void> {
  const { session, paths, index } = d;
  const items = index.listUnread();
  if (items.length === 0) return;
  const touched = index.track();
  try {
    const data = await readAssignments(
      session,
      items.map((f) => paths.assignmentAt(f.member, f.name)),
      (i) => index.isPristine(items[i]!.member, items[i]!.name),
    );
    const now = Date.now();
    items.forEach((f, i) => {
      const r = data[i]!;
      // An event since (created again, deleted, the directory gone) or our own record of it: those win.
      if (touched.has(HeldIndex.key(f.member, f.name)) || touched.has(f.member) || !index.isUnread(f.member, f.name)) return;
      const h = r.ok ? heldFrom(f.member, f.name, r.data, d.timeoutGraceMs, now) : null;
      if (h) return void index.add(h);
      index.dropUnread(f.member, f.name);
      if (r.ok) d.log.warn({ member: f.member, name: f.name }, 'unparseable assignment name; ignoring it');
    });
  } finally {
    index.untrack(touched);
  }
}
