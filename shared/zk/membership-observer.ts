// A live view of a membership directory on ONE persistent recursive watch (session.watchTree):
// a member created or changed is read alone (reads pending together go in one multiRead), a
// deleted one leaves at once, with no read. After every (re)connect, and once when the watch
// is first armed, `onReset` says events may have been missed: the directory is listed once,
// every member read with getDataMany, and the view diffed (joins, leaves, updates of the
// gap). So a member joining, leaving or being killed costs O(1) requests whatever the size
// of the group; only a reset reads the whole group.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { Coalescer } from '../util/coalescer.js';
import { NoNodeError, fromClientError } from './errors.js';
import type { TreeEvent, TreeWatch, ZkSession } from './session.js';

const NO_NODE = -101;
/**
 * Member nodes per multiRead. A drover worker's node is a few hundred bytes (labels and type
 * names make it grow): 50 keep a reply far below 512 KiB unless members carry tens of KiB.
 */
export const MEMBERS_PER_READ = 50;

export interface ObserverEvents<T> {
  join: [member: T & { name: string }];
  leave: [name: string];
  /** A member node was deleted, whether the view held it or not (it may have gone before it was read). */
  gone: [name: string];
  update: [member: T & { name: string }];
  /** The whole view was (re)built (after the first arm and every reset). */
  change: [];
  /** stop() was called: owners tied to this view (the leader's reconciler) stop too. */
  stopped: [];
}

/** Turns a member node's data into what the view holds. */
export type MemberParser<T> = (name: string, data: Buffer, log: Logger) => T;

interface Entry<T> {
  member: T & { name: string };
  /** The bytes it was parsed from: a re-read that finds the same bytes is no update. */
  raw: Buffer;
}

/**
 * Keeps a live view of the members under `dir`; events say what changed since the last view.
 * `start()` resolves once the first full view has been read (or its first try failed: it is
 * retried, and the view fills in then).
 */
export class TreeMembershipObserver<T extends object> extends EventEmitter<ObserverEvents<T>> {
  private readonly log: Logger;
  private readonly view = new Map<string, Entry<T>>();
  /** Members whose node was created or changed: read at the next run. */
  private readonly dirty = new Set<string>();
  /** Members an event named since the current run began: that run's reads of them are stale. */
  private readonly touched = new Set<string>();
  private needFull = false;
  private watch?: TreeWatch;
  private stopped = false;
  private readonly refresher: Coalescer;
  private firstDone!: () => void;
  private readonly firstView = new Promise<void>((r) => (this.firstDone = r));

  constructor(
    private readonly session: ZkSession,
    readonly dir: string,
    private readonly parse: MemberParser<T>,
    log: Logger = silentLogger,
  ) {
    super();
    this.log = log.child({ component: 'membership-observer' });
    this.refresher = new Coalescer(
      () => this.run(),
      (err) => {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message }, 'membership refresh failed; retrying');
        setTimeout(() => this.refresher.kick(), 200).unref();
      },
    );
  }

  members(): Array<T & { name: string }> {
    return Array.from(this.view.values(), (e) => e.member);
  }
  get(name: string): (T & { name: string }) | undefined {
    return this.view.get(name)?.member;
  }
  get size(): number {
    return this.view.size;
  }

  async start(): Promise<void> {
    const watch = await this.session.watchTree(
      this.dir,
      (e) => this.onEvent(e),
      () => this.onReset(),
    );
    if (this.stopped) return void watch.close().catch(() => undefined);
    this.watch = watch;
    await this.firstView;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.firstDone();
    void this.watch?.close().catch(() => undefined);
    this.emit('stopped');
  }

  /** Resolves once any refresh in progress (and those it kicked) has finished. */
  settled(): Promise<void> {
    return this.refresher.settled();
  }

  private onReset(): void {
    if (this.stopped) return;
    this.needFull = true;
    this.refresher.kick();
  }

  private onEvent(e: TreeEvent): void {
    if (this.stopped || !e.path.startsWith(`${this.dir}/`)) return; // the directory itself
    const name = e.path.slice(this.dir.length + 1);
    if (name.includes('/')) return; // below a member: not ours
    this.touched.add(name);
    if (e.type === 'deleted') {
      this.dirty.delete(name);
      this.leave(name);
      this.emit('gone', name);
      return;
    }
    this.dirty.add(name);
    this.refresher.kick();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.touched.clear();
    if (this.needFull) {
      this.needFull = false;
      try {
        await this.readAll();
      } catch (err) {
        this.needFull = true;
        throw err;
      } finally {
        this.firstDone();
      }
      return;
    }
    if (this.dirty.size === 0) return;
    // Taken before reading: a change that fires while we read marks the member again.
    const names = [...this.dirty];
    this.dirty.clear();
    try {
      const got = await this.readMany(names);
      names.forEach((n, i) => this.apply(n, got[i]!));
    } catch (err) {
      for (const n of names) this.dirty.add(n);
      throw err;
    }
  }

  /** The whole directory: listed once, every member read, then diffed against the view. */
  private async readAll(): Promise<void> {
    this.dirty.clear();
    let names: string[];
    try {
      ({ children: names } = await this.session.retrying(() => this.session.getChildren(this.dir)));
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      names = [];
    }
    const got = await this.readMany(names);
    const listed = new Set(names);
    for (const name of [...this.view.keys()]) {
      if (listed.has(name) || this.touched.has(name)) continue;
      this.leave(name);
      this.emit('gone', name);
    }
    names.forEach((n, i) => this.apply(n, got[i]!));
    // A reset that came while we read (another cut) may have missed a leave this read saw as
    // present: the view is whole only after the next full read, which the reset has queued.
    if (!this.needFull) this.emit('change');
  }

  private readMany(names: string[]): ReturnType<ZkSession['getDataMany']> {
    if (names.length === 0) return Promise.resolve([]);
    const paths = names.map((n) => `${this.dir}/${n}`);
    return this.session.retrying(() => this.session.getDataMany(paths, { maxPerRequest: MEMBERS_PER_READ }));
  }

  /** One read's outcome, unless an event about that member came since (it is read again, or gone). */
  private apply(name: string, r: Awaited<ReturnType<ZkSession['getDataMany']>>[number]): void {
    if (this.touched.has(name) || this.stopped) return;
    if (!r.ok) {
      if (r.code !== NO_NODE) throw fromClientError(Object.assign(new Error(`reading member ${name} failed`), { code: r.code }), { op: 'getDataMany', path: `${this.dir}/${name}` });
      if (this.leave(name)) this.emit('gone', name);
      return;
    }
    const known = this.view.get(name);
    if (known?.raw.equals(r.data)) return;
    const member = { ...this.parse(name, r.data, this.log), name };
    this.view.set(name, { member, raw: r.data });
    this.emit(known ? 'update' : 'join', member);
  }

  private leave(name: string): boolean {
    if (!this.view.delete(name)) return false;
    this.emit('leave', name);
    return true;
  }
}
