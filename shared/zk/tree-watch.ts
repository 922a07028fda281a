// Persistent recursive watches (ZooKeeper 3.6+ addWatch, mode PERSISTENT_RECURSIVE) for one
// session: the registry of watched roots, the routing of notifications to their listeners,
// and re-adding every watch after each (re)connect.
//
// - The server sends a recursive watch's events as ordinary notifications (NodeCreated /
//   NodeDeleted / NodeDataChanged for the root or any descendant, never NodeChildrenChanged);
//   one per event per connection, even when a one-shot watch of ours covers the same path, so
//   every notification is offered here first, then to the library's one-shot registry.
// - Server-side watches belong to a connection: after any reconnect (same session or new) each
//   root is added again, then its listeners' onReset() runs (events in the gap are lost; the
//   consumer re-reads what it mirrors). onReset also runs once after the first arming.
// - One server watch per root, shared by every listener on it; released with the last one.
//   On 3.8.0 the recursive watch and a one-shot of ours on the root are one entry per table
//   (see below): removing a table's watches there would take the one-shot too, and keeping
//   them keeps the whole tree's events streaming. So each table is released on its own: a
//   table where the library holds one-shots on the root gets them set again (a one-shot
//   set on the root ends the recursive mode there, and no event falls in a gap), the other
//   is removed (removeWatches). Until that is done, child events still stand in for the
//   root's NodeChildrenChanged (afterRoute). A child one-shot is set again with getChildren,
//   whose reply is the root's whole child list (only when a consumer holds one there, and
//   read that list itself). On 3.9+ (modes kept apart) a re-set one-shot no longer ends the
//   recursive mode: this release is written for 3.8.
// - onEvent can run before onReset: after a (re)add, the server may send events before the
//   reply to the addWatch that onReset waits for. A consumer that mirrors must apply events
//   to what it has and let the reset's re-read settle the rest.
// - ZooKeeper 3.8.0 keeps one watch mode per (connection, path) in each of its two watch
//   tables, data and child (ZOOKEEPER-4466, fixed in 3.9), and addWatch registers the
//   recursive watch in both:
//   - a one-shot data/exists watch set on a watched root itself turns the recursive watch
//     there into a one-shot. The session tells us (reassert) and the root is added again,
//     with onReset;
//   - a one-shot child watch on a root (getChildren(root, w)) set before an addWatch of the
//     root (watchTree, a reassert, every reconnect: SetWatches goes first) becomes recursive,
//     and a recursive watch never gets NodeChildrenChanged: the server swallows it. So every
//     created/deleted child of a watched root is also handed to the library's registry as a
//     NodeChildrenChanged of the root when the library holds a child watcher there
//     (afterRoute; a second one from the server finds no watcher left). In the gap of a
//     reassert (one round trip with neither table recursive-and-delivering at the root) a
//     child change can be missed: after the re-add, held child watchers of the root fire
//     once, changed or not (a one-shot firing means "re-read", like onReset).
import type { Logger } from '../log.js';
import { UnsupportedServerError } from './errors.js';
import { WATCHER_TYPE } from './wire.js';

export type TreeEvent = { type: 'created' | 'deleted' | 'changed'; path: string };
export interface TreeWatch {
  /** Stops delivering events (and removes the server-side watch when connected). */
  close(): Promise<void>;
}

/** What the registry needs from its session. */
export interface TreeHost {
  /** addWatch(root, PERSISTENT_RECURSIVE) on the current connection, with a deadline. */
  addWatch(root: string): Promise<void>;
  /** removeWatches(root, type) on the current connection. */
  removeWatches(root: string, type: number): Promise<void>;
  connected(): boolean;
  /** Whether the library holds one-shot watchers on `path` (data/exists, children). */
  oneShots(path: string): { data: boolean; child: boolean };
  /** exists/getChildren(path, watch) for the one-shot watchers the library holds there (wire.ts). */
  setOneShot(path: string, kind: 'data' | 'child'): Promise<void>;
  /** Delivers a NodeChildrenChanged of `path` to the library's one-shot child watchers. */
  fireChildWatchers(path: string): void;
  log: Logger;
}

interface Entry {
  root: string;
  onEvent: (e: TreeEvent) => void;
  onReset: () => void;
  /** Its first addWatch succeeded: re-added (and reset) after each reconnect. */
  armed: boolean;
  closed: boolean;
}

const TYPES: Record<number, TreeEvent['type']> = { 1: 'created', 2: 'deleted', 3: 'changed' };

function parentOf(path: string): string | null {
  if (path === '/') return null;
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export class TreeWatches {
  private readonly roots = new Map<string, Set<Entry>>();
  /** Roots being released (count of releases in flight). */
  private readonly releasing = new Map<string, number>();
  /** Bumped at every (re)connect: a re-arm of an older connection calls no onReset. */
  private epoch = 0;

  constructor(private readonly host: TreeHost) {}

  has(root: string): boolean {
    return this.roots.has(root);
  }

  /** Offers one notification (library event type, chroot-free path) to the roots above it. */
  route(type: number, path: string): void {
    if (this.roots.size === 0) return;
    const t = TYPES[type];
    if (!t || typeof path !== 'string') return;
    const event: TreeEvent = { type: t, path };
    // Walks up from the path: cost by depth, not by the number of roots.
    for (let p: string | null = path; p !== null; p = parentOf(p)) {
      const entries = this.roots.get(p);
      if (!entries) continue;
      for (const e of entries) if (!e.closed) this.safely(e, 'onEvent', () => e.onEvent(event));
    }
  }

  /**
   * After the library's registry had a notification: a created/deleted child of a watched
   * root is a NodeChildrenChanged of the root for its one-shot child watchers (see above).
   */
  afterRoute(type: number, path: string): void {
    if ((this.roots.size === 0 && this.releasing.size === 0) || (type !== 1 && type !== 2) || typeof path !== 'string') return;
    const parent = parentOf(path);
    if (parent === null || !(this.roots.has(parent) || this.releasing.has(parent))) return;
    if (this.host.oneShots(parent).child) this.host.fireChildWatchers(parent);
  }

  /** Registers a listener and arms its root; resolves once armed (after its first onReset). */
  async open(root: string, onEvent: (e: TreeEvent) => void, onReset: () => void): Promise<TreeWatch> {
    const entry: Entry = { root, onEvent, onReset, armed: false, closed: false };
    let set = this.roots.get(root);
    if (!set) this.roots.set(root, (set = new Set()));
    set.add(entry);
    const handle: TreeWatch = { close: () => this.close(entry) };
    try {
      await this.host.addWatch(root);
    } catch (err) {
      await this.close(entry);
      throw err;
    }
    if (entry.closed) return handle;
    entry.armed = true;
    this.safely(entry, 'onReset', () => entry.onReset());
    return handle;
  }

  /** After every (re)connect: adds each armed root again, then resets its listeners. */
  rearm(): void {
    const epoch = ++this.epoch;
    for (const root of this.roots.keys()) this.arm(root, epoch);
  }

  /** A one-shot data/exists watch was set on `root` itself (ZOOKEEPER-4466): add it again. */
  reassert(root: string): void {
    if (this.roots.has(root)) this.arm(root, this.epoch, true);
  }

  /** The session closed: nothing more is delivered (its server-side watches go with it). */
  closeAll(): void {
    for (const set of this.roots.values()) for (const e of set) e.closed = true;
    this.roots.clear();
    this.releasing.clear();
    this.epoch += 1;
  }

  private arm(root: string, epoch: number, reasserted = false, delayMs = 100): void {
    const targets = [...(this.roots.get(root) ?? [])].filter((e) => e.armed && !e.closed);
    if (targets.length === 0) return;
    this.host.addWatch(root).then(
      () => {
        // Closed meanwhile (its release may have gone out before this add): release again.
        if (!this.roots.has(root)) return void this.release(root);
        if (epoch !== this.epoch) return;
        for (const e of targets) if (!e.closed) this.safely(e, 'onReset', () => e.onReset());
        // The gap of a reassert may have hidden a child change from them (see above).
        if (reasserted && this.host.oneShots(root).child) this.host.fireChildWatchers(root);
      },
      (err: unknown) => {
        if (err instanceof UnsupportedServerError) {
          // Not retried: it fails the same at every try (the next connect tries once more).
          this.host.log.error({ root, err: err.message }, 'cannot re-add a tree watch');
          return;
        }
        if (epoch !== this.epoch || !this.host.connected()) return; // the next connect re-arms
        // Still connected on the same connection (a request deadline passed): try again.
        this.host.log.warn({ root, err: (err as Error).message }, 'could not re-add a tree watch; retrying');
        const t = setTimeout(() => {
          if (epoch === this.epoch && this.host.connected()) this.arm(root, epoch, reasserted, Math.min(delayMs * 2, 2000));
        }, delayMs);
        t.unref();
      },
    );
  }

  private async close(entry: Entry): Promise<void> {
    if (entry.closed) return;
    entry.closed = true;
    const set = this.roots.get(entry.root);
    if (!set) return;
    set.delete(entry);
    if (set.size > 0) return;
    this.roots.delete(entry.root);
    await this.release(entry.root);
  }

  /** Ends the recursive watch on `root` on this connection, keeping our one-shots there (see above). */
  private async release(root: string): Promise<void> {
    if (!this.host.connected()) return; // the watch went with the connection, or goes with it
    this.releasing.set(root, (this.releasing.get(root) ?? 0) + 1);
    // NOWATCHER (already gone) and connection loss (gone with the connection) are both fine.
    const quietly = (p: Promise<void>) => p.catch(() => undefined);
    try {
      const held = this.host.oneShots(root);
      if (!held.child && !held.data) {
        await quietly(this.host.removeWatches(root, WATCHER_TYPE.any));
        return;
      }
      // The child table first: while the data table is still recursive, its events of the
      // root's children stand in for NodeChildrenChanged (afterRoute). Both are sent at once.
      const child = held.child
        ? this.host.setOneShot(root, 'child').catch((err: unknown) =>
            // The root is gone: the library fired its child watchers; the recursive entry stays.
            (err as { code?: string }).code === 'NO_NODE' ? quietly(this.host.removeWatches(root, WATCHER_TYPE.children)) : undefined,
          )
        : quietly(this.host.removeWatches(root, WATCHER_TYPE.children));
      const data = quietly(held.data ? this.host.setOneShot(root, 'data') : this.host.removeWatches(root, WATCHER_TYPE.data));
      await Promise.all([child, data]);
    } finally {
      const n = (this.releasing.get(root) ?? 1) - 1;
      if (n > 0) this.releasing.set(root, n);
      else this.releasing.delete(root);
    }
  }

  private safely(e: Entry, what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // A listener's throw must not reach the library's socket handler (a dropped connection).
      this.host.log.error({ root: e.root, err: (err as Error)?.message }, `tree watch ${what} listener threw`);
    }
  }
}
