// The worker's view of its own assignment directory: one listing with a child watch (one
// watcher function per member and session, so re-listing never piles up listeners), and the
// directory re-created when it is gone while we are registered (no leader assigns to a member
// without one).
import type { Paths } from '../shared/protocol/paths.js';
import { NoNodeError } from '../shared/zk/errors.js';
import { StableWatchers } from '../shared/zk/stable-watchers.js';
import type { ZkSession } from '../shared/zk/session.js';

export class AssignmentDir {
  private readonly watchers: StableWatchers;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    /** Re-creates `member`'s directory if it is gone and still ours; false when it is not. */
    private readonly restore: (member: string) => Promise<boolean>,
    /** The directory changed (the watch fired) while `member` is still the one watched. */
    private readonly onChange: (member: string) => void,
  ) {
    this.watchers = new StableWatchers(session);
  }

  /**
   * Lists `member`'s directory and arms its watch: assignment path → its name. Null when it
   * was gone and has been re-created (list again).
   */
  async list(member: string): Promise<Map<string, string> | null> {
    const { session, paths } = this;
    const watcher = this.watchers.get(member, () => () => this.onChange(member));
    try {
      const { children } = await session.retrying(() => session.getChildren(paths.assignDir(member), watcher));
      return new Map(children.map((n) => [paths.assignmentAt(member, n), n]));
    } catch (err) {
      if (err instanceof NoNodeError && (await this.restore(member))) return null;
      throw err;
    }
  }
}
