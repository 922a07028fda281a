// The worker's view of its own assignment directory, kept by one persistent recursive watch
// (session.watchTree) instead of a re-listing per change: each created or deleted assignment
// comes as an event with its path, so neither a new burst nor the removals of our own
// commits cost a listing. The directory is listed only when the watch is (re)armed (after
// every reconnect events may have been missed) or the directory itself went. Data changes
// (our own progress writes) are ignored. A directory gone while we are registered is
// re-created (no leader assigns to a member without one). A member directory belongs to one
// session (its incarnation): after an expiry the session re-adds the old root's watch on the
// new session before the worker has registered anew, and what that watch says (resets,
// events) is ignored, so the old incarnation's directory is never listed on the new session.
import type { Logger } from '../shared/log.js';
import type { Paths } from '../shared/protocol/paths.js';
import { NoAuthBackoff } from '../shared/zk/auth-backoff.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { TreeEvent, TreeWatch, ZkSession } from '../shared/zk/session.js';

/** Assignment path → its name in the directory. */
export type Listing = Map<string, string>;

export class AssignmentDir {
  private member: string | null = null;
  /** The session generation `member` was followed in: its directory is of that session only. */
  private generation = -1;
  private tree: TreeWatch | null = null;
  /** The watch is in place and has been reset at least once: the mirror can be kept by events. */
  private armed = false;
  /** Bumped at every reset: a listing begun before one does not become the mirror. */
  private resets = 0;
  /** The directory as the last listing and the events since say; null: list it. */
  private mirror: Listing | null = null;
  /** Events that came while a listing was in flight: replayed onto it (each path's last event wins). */
  private during: TreeEvent[] | null = null;
  private closed = false;
  /** A change notice is due at the end of this turn (the events of one multi come in one turn). */
  private noticeDue = false;
  /** A watch refused (NO_AUTH) is logged once and tried again 1 s doubling to 60 s, not every 300 ms. */
  private readonly refusals: NoAuthBackoff;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    /** Re-creates `member`'s directory if it is gone and still ours; false when it is not. */
    private readonly restore: (member: string) => Promise<boolean>,
    /** Something changed in `member`'s directory (or it must be listed again). */
    private readonly changed: (member: string) => void,
    private readonly log: Logger,
  ) {
    this.refusals = new NoAuthBackoff(log);
  }

  /** Tells of a change once per turn, so a burst assigned in one multi is taken as one. */
  private onChange(member: string): void {
    if (this.noticeDue) return;
    this.noticeDue = true;
    setImmediate(() => {
      this.noticeDue = false;
      if (this.current(member)) this.changed(member);
    });
  }

  /** Watches `member`'s directory only, from now on (an older incarnation's is the leader's business). */
  follow(member: string): void {
    if (this.member === member || this.closed) return;
    this.unfollow();
    this.member = member;
    this.generation = this.session.generation;
    void this.arm(member);
  }

  /** `member` is followed, in the session it was followed in (not an expired incarnation's). */
  private current(member: string): boolean {
    return member === this.member && this.generation === this.session.generation;
  }

  close(): void {
    this.closed = true;
    this.unfollow();
  }

  private unfollow(): void {
    const tree = this.tree;
    this.tree = null;
    this.member = null;
    this.armed = false;
    this.mirror = null;
    this.during = null;
    void tree?.close().catch(() => undefined);
  }

  private async arm(member: string): Promise<void> {
    try {
      const tree = await this.session.watchTree(this.paths.assignDir(member), (e) => this.onEvent(member, e), () => this.onReset(member));
      this.refusals.succeeded();
      if (this.member === member) this.tree = tree;
      else await tree.close();
    } catch (err) {
      if (this.member !== member || this.session.state === 'closed') return;
      // Not armed (the connection dropped meanwhile, say): listings go on; try again soon.
      if (!NoAuthBackoff.is(err)) this.log.warn({ err: (err as Error).message }, 'cannot watch our assignment directory; trying again');
      this.refusals.schedule(err, 300, () => {
        if (this.current(member)) void this.arm(member);
      });
      this.onChange(member);
    }
  }

  private onReset(member: string): void {
    if (!this.current(member)) return;
    this.armed = true;
    this.resets += 1;
    this.mirror = null;
    this.during = null;
    this.onChange(member);
  }

  private onEvent(member: string, e: TreeEvent): void {
    if (!this.current(member) || e.type === 'changed') return;
    const dir = this.paths.assignDir(member);
    if (e.path === dir) {
      // The directory itself went (or came back): list it, re-creating it if need be.
      this.mirror = null;
      this.during = null;
    } else if (e.path.lastIndexOf('/') === dir.length && e.path.startsWith(`${dir}/`)) {
      this.during?.push(e);
      if (this.mirror) apply(this.mirror, e, dir);
    } else return;
    this.onChange(member);
  }

  /**
   * `member`'s directory now: the mirror when the watch keeps it, a listing otherwise. Null
   * when the directory was gone and has been re-created (list again). Throws when `member`
   * was followed in an expired session (the caller asks only for the current incarnation's).
   */
  async list(member: string): Promise<Listing | null> {
    if (member === this.member && this.generation !== this.session.generation) throw new Error(`assignment directory of ${member}, an expired session's, not listed`);
    if (member === this.member && this.armed && this.mirror) return new Map(this.mirror);
    const { session, paths } = this;
    const dir = paths.assignDir(member);
    const resets = this.resets;
    const keep = this.current(member) && this.armed;
    const during: TreeEvent[] = [];
    if (keep) this.during = during;
    let listed: Listing;
    try {
      const { children } = await session.retrying(() => session.getChildren(dir));
      listed = new Map(children.map((n) => [paths.assignmentAt(member, n), n]));
    } catch (err) {
      if (this.during === during) this.during = null;
      if (err instanceof NoNodeError && (await this.restore(member))) return null;
      throw err;
    }
    // What changed after the server read the listing came as events meanwhile: replayed, in order.
    for (const e of during) apply(listed, e, dir);
    if (this.during === during) {
      this.during = null;
      if (keep && this.current(member) && resets === this.resets) this.mirror = new Map(listed);
    }
    return listed;
  }
}

function apply(listing: Listing, e: TreeEvent, dir: string): void {
  if (e.type === 'created') listing.set(e.path, e.path.slice(dir.length + 1));
  else if (e.type === 'deleted') listing.delete(e.path);
}
