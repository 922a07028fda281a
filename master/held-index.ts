// The leader's mirror of assign/: member directory → assignment name → what it holds, kept
// current by the events of ONE tree watch on assign/ (no listing per change): a directory
// created is a member that can take work (empty: what it gets comes as events), an
// assignment deleted is a finish, cancel or reclaim (its slot frees at once), an assignment
// created that we did not record ourselves is `unread` (read at the next refresh) and counts
// in its member's load from its event on: an assign whose outcome we did not learn takes its
// slots as soon as its events come. A reset (events may have been missed) is a listing
// diffed in by applySnapshot; events that came meanwhile win.
import { Paths } from '../shared/protocol/paths.js';
import type { TreeEvent } from '../shared/zk/session.js';
import { HeldDeadlines } from './held-deadlines.js';
import type { Held } from './leader-context.js';

/** How long a deletion we could not match is kept (an assign's reply handled after its finish). */
const TOMBSTONE_MS = 60_000;

/** The member and (for a node below it) the assignment name of a path under assign/. */
export function parseAssignPath(assignRoot: string, path: string): { member: string; name?: string } | null {
  if (path.length <= assignRoot.length + 1 || !path.startsWith(`${assignRoot}/`)) return null;
  const rel = path.slice(assignRoot.length + 1);
  const slash = rel.indexOf('/');
  if (slash < 0) return { member: rel };
  const name = rel.slice(slash + 1);
  if (slash === 0 || name === '' || name.includes('/')) return null;
  return { member: rel.slice(0, slash), name };
}

const keyOf = (member: string, name: string): string => `${member}/${name}`;

export class HeldIndex {
  private readonly dirs = new Map<string, Map<string, Held>>();
  /**
   * Assignments created that the mirror lacks (not recorded by us: an earlier leader's, a
   * write whose outcome we did not learn). Never a name `dirs` holds: load() adds the two.
   */
  readonly unread = new Map<string, Set<string>>();
  /** Unread assignments seen created and not changed since (no progress written over them): read as small. */
  private readonly pristine = new Set<string>();
  /** Directories that appeared for a member the view did not hold then: judged once the view has settled. */
  readonly unseen = new Set<string>();
  /** Deletions the mirror could not match: an assign whose reply we handle after its finish must not come back. */
  private readonly tombstones = new Map<string, number>();
  /** Sets collecting what events touch (`member`, `member/name`) while a read is out. */
  private readonly trackers = new Set<Set<string>>();
  /** What it holds, by deadline. */
  readonly deadlines = new HeldDeadlines((h) => this.dirs.get(h.member)?.get(Paths.assignmentName(h.taskId, h.attempt)) === h);

  constructor(
    private readonly assignRoot: string,
    /** A slot freed, a member can take work, or something is to be read: ask for a round. */
    private readonly changed: () => void,
  ) {}

  has(member: string): boolean {
    return this.dirs.has(member);
  }
  dir(member: string): ReadonlyMap<string, Held> | undefined {
    return this.dirs.get(member);
  }
  members(): IterableIterator<string> {
    return this.dirs.keys();
  }
  /** What it holds: assignments read or recorded, and those known by their event only. */
  load(member: string): number {
    return (this.dirs.get(member)?.size ?? 0) + (this.unread.get(member)?.size ?? 0);
  }
  count(): number {
    let n = 0;
    for (const d of this.dirs.values()) n += d.size;
    return n;
  }
  /** count() plus the unread ones. */
  total(): number {
    let n = this.count();
    for (const u of this.unread.values()) n += u.size;
    return n;
  }

  /** An assignment we committed: mirrored, unless its deletion was seen first. */
  record(h: Held): void {
    const name = Paths.assignmentName(h.taskId, h.attempt);
    if (this.tombstones.delete(keyOf(h.member, name))) return;
    this.set(h.member, name, h);
  }
  /** An assignment read from ZooKeeper (a snapshot or an unread one). */
  add(h: Held): void {
    this.set(h.member, Paths.assignmentName(h.taskId, h.attempt), h);
  }
  /** An assignment we removed (its deletion event may come before or after). */
  remove(h: Held): void {
    const d = this.dirs.get(h.member);
    if (d) this.del(d, Paths.assignmentName(h.taskId, h.attempt));
  }
  dropDir(member: string): void {
    for (const h of this.dirs.get(member)?.values() ?? []) this.deadlines.removed(h);
    this.dirs.delete(member);
    for (const name of this.unread.get(member) ?? []) this.pristine.delete(keyOf(member, name));
    this.unread.delete(member);
  }

  /** From now on, collects the keys events touch; untrack() when the read it guards is applied. */
  track(): Set<string> {
    const s = new Set<string>();
    this.trackers.add(s);
    return s;
  }
  untrack(s: Set<string>): void {
    this.trackers.delete(s);
  }
  static key(member: string, name?: string): string {
    return name === undefined ? member : keyOf(member, name);
  }

  onEvent(e: TreeEvent): void {
    // A data change is a progress write (up to 4/s per running attempt): nothing held changes;
    // it only tells that an unread node may be big now. Dropped before any parsing otherwise.
    if (e.type === 'changed') {
      if (this.pristine.size > 0) this.pristine.delete(e.path.slice(this.assignRoot.length + 1));
      return;
    }
    const p = parseAssignPath(this.assignRoot, e.path);
    if (!p) return;
    for (const t of this.trackers) t.add(HeldIndex.key(p.member, p.name));
    const { member, name } = p;
    if (name === undefined) {
      if (e.type === 'created') {
        // New: empty. What it is given comes as events of its own.
        if (!this.dirs.has(member)) this.dirs.set(member, new Map());
        this.unseen.add(member);
      } else this.dropDir(member);
      this.changed();
      return;
    }
    if (e.type === 'created') {
      // (A name that is no assignment is never read: nothing could parse it.)
      if (this.ensure(member).has(name) || !Paths.parseAssignment(name)) return;
      this.addUnread(member, name);
      this.pristine.add(keyOf(member, name));
      this.changed();
      return;
    }
    const d = this.dirs.get(member);
    if (d && this.del(d, name)) return this.changed();
    // Not mirrored (maybe unread): our own assign's reply may still come, after its finish.
    this.tombstones.set(keyOf(member, name), Date.now());
    if (this.dropUnread(member, name)) this.changed();
  }

  /**
   * A listing of every directory (null: gone by the time it was listed) and what was read of
   * the assignments the mirror lacked, diffed in. A key an event touched since the listing
   * began keeps what the events made of it.
   */
  applySnapshot(listed: ReadonlyMap<string, readonly string[] | null>, read: ReadonlyMap<string, Held>, touched: ReadonlySet<string>): void {
    for (const [member, names] of listed) {
      if (touched.has(member)) continue;
      if (names === null) {
        this.dropDir(member);
        continue;
      }
      const d = this.ensure(member);
      const present = new Set(names);
      for (const n of [...d.keys()]) if (!present.has(n) && !touched.has(keyOf(member, n))) this.del(d, n);
      for (const n of [...(this.unread.get(member) ?? [])]) if (!present.has(n) && !touched.has(keyOf(member, n))) this.dropUnread(member, n);
      for (const n of names) {
        const k = keyOf(member, n);
        if (d.has(n) || touched.has(k)) continue;
        const h = read.get(k);
        if (h) this.set(member, n, h);
      }
    }
    for (const member of [...this.dirs.keys()]) if (!listed.has(member) && !touched.has(member)) this.dropDir(member);
  }

  /** The unread assignments, to read; each stays unread (and counted) until read or deleted. */
  listUnread(): Array<{ member: string; name: string }> {
    const out: Array<{ member: string; name: string }> = [];
    for (const [member, names] of this.unread) for (const name of names) out.push({ member, name });
    return out;
  }
  /** Out of the mirror and unread again: the node is still there, what it holds is to be read again. */
  unreadAgain(h: Held): void {
    const name = Paths.assignmentName(h.taskId, h.attempt);
    const d = this.dirs.get(h.member);
    if (d) this.del(d, name);
    this.addUnread(h.member, name);
  }
  /** An assignment found by a listing, not in the mirror: unread (read at the next refresh). True when it was not known. */
  foundUnread(member: string, name: string): boolean {
    if (this.dirs.get(member)?.has(name) || this.isUnread(member, name)) return false;
    this.addUnread(member, name);
    return true;
  }
  /** Known to hold what a leader wrote: seen created, never changed since (while connected). */
  isPristine(member: string, name: string): boolean {
    return this.pristine.has(keyOf(member, name));
  }
  /** The connection dropped: changes may go unseen, so no node is known small any more. */
  forgetSizes(): void {
    this.pristine.clear();
  }
  isUnread(member: string, name: string): boolean {
    return this.unread.get(member)?.has(name) ?? false;
  }
  /** An unread name that turned out to be gone. */
  dropUnread(member: string, name: string): boolean {
    const u = this.unread.get(member);
    if (!u?.delete(name)) return false;
    this.pristine.delete(keyOf(member, name));
    if (u.size === 0) this.unread.delete(member);
    return true;
  }

  prune(now: number): void {
    for (const [k, at] of this.tombstones) if (now - at > TOMBSTONE_MS) this.tombstones.delete(k);
  }

  private set(member: string, name: string, h: Held): void {
    this.dropUnread(member, name);
    const d = this.ensure(member);
    this.del(d, name);
    d.set(name, h);
    this.deadlines.added(h);
  }
  private del(d: Map<string, Held>, name: string): boolean {
    const h = d.get(name);
    if (!h) return false;
    d.delete(name);
    this.deadlines.removed(h);
    return true;
  }
  private addUnread(member: string, name: string): void {
    let s = this.unread.get(member);
    if (!s) this.unread.set(member, (s = new Set()));
    s.add(name);
  }

  private ensure(member: string): Map<string, Held> {
    let d = this.dirs.get(member);
    if (!d) this.dirs.set(member, (d = new Map()));
    return d;
  }
}
