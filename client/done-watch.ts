// One persistent recursive watch on the finished index (done/), for a client waiting on
// many tasks: every finish creates done/<shard>/<finishedAt>-<taskId> in the same multi as
// the terminal record, so the event's path names the task, and one watch replaces a watch
// per record (100,000 of those re-sent on a reconnect are a SetWatches of several MB, which
// the server refuses). After every (re)connect the session re-adds the watch and calls
// `reset`: finishes may have been missed in the gap, so the owner re-reads what it waits on.
// Arming is retried (once ZooKeeper is back) until it succeeds or the watch is closed.
import { Paths } from '../shared/protocol/paths.js';
import { SessionClosedError } from '../shared/zk/errors.js';
import type { TreeWatch, ZkSession } from '../shared/zk/session.js';

export interface DoneHooks {
  /** Task `taskId` finished (or its done entry was written again): read it. */
  finished(taskId: string): void;
  /** The watch is (re-)armed and events may have been missed before: re-read everything. */
  reset(): void;
  /** A try to arm it failed (ZooKeeper away): read anyway, so the waits learn that ZooKeeper is away. */
  unarmed(): void;
}

/** Pause between failed tries to arm the watch. */
const RETRY_MS = 200;

export class DoneWatch {
  /** Bumped by every open/close: a try or an event of an older opening is ignored. */
  private token = 0;
  private watch?: TreeWatch;
  private opened = false;
  /** The watch is in place (its first reset has been called). */
  armed = false;
  /** The last try to arm it failed; it is tried again once ZooKeeper is back. */
  failing = false;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly hooks: DoneHooks,
  ) {}

  get isOpen(): boolean {
    return this.opened;
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    const token = ++this.token;
    void this.arm(token);
  }

  close(): void {
    if (!this.opened) return;
    this.opened = false;
    this.armed = false;
    this.failing = false;
    this.token++;
    const w = this.watch;
    this.watch = undefined;
    // Best effort: a watch the server still holds only sends events into nothing.
    if (w) void w.close().catch(() => undefined);
  }

  private async arm(token: number): Promise<void> {
    const live = () => this.token === token;
    while (live()) {
      try {
        const w = await this.session.watchTree(
          this.paths.done,
          (e) => {
            if (!live() || e.type !== 'created' || this.paths.partOf(e.path) !== 'done-entry') return;
            const entry = Paths.parseDoneEntry(e.path.slice(e.path.lastIndexOf('/') + 1));
            if (entry) this.hooks.finished(entry.taskId);
          },
          () => {
            if (!live()) return;
            this.armed = true;
            this.failing = false;
            this.hooks.reset();
          },
        );
        if (live()) this.watch = w;
        else void w.close().catch(() => undefined);
        return;
      } catch (err) {
        if (err instanceof SessionClosedError || this.session.state === 'closed') return;
        if (!live()) return;
        if (!this.failing) {
          this.failing = true;
          this.hooks.unarmed();
        }
        // ZooKeeper away (or the session being replaced): try again once it is back.
        await new Promise((r) => setTimeout(r, RETRY_MS));
        await this.session.waitConnected().catch(() => undefined);
      }
    }
  }
}
