// The release's two persistent recursive watches (dag-release.ts): dag/waiting/ for as long as
// it leads, done/ only while children wait — armed before a registration reads any parent (no
// finish may fall between a record read and its watch), removed once none is left, so a
// cluster without dependencies gets no leader event per finished task.
import type { DagPaths } from '../shared/protocol/dag-paths.js';
import { Paths } from '../shared/protocol/paths.js';
import type { TreeEvent, TreeWatch, ZkSession } from '../shared/zk/session.js';

export interface DagWatchHandlers {
  waiting(e: TreeEvent): void;
  /** The dag/waiting/ watch was re-added: what it missed is listed again. */
  waitingReset(): void;
  done(e: TreeEvent): void;
  /** The done/ watch was re-added: its missed events are read back from the pending parents. */
  doneReset(): void;
}

export class DagWatches {
  private waiting: TreeWatch | null = null;
  private done: TreeWatch | null = null;
  /** Times the done/ watch was armed. */
  doneArms = 0;

  constructor(
    private readonly session: ZkSession,
    private readonly dag: DagPaths,
    private readonly on: DagWatchHandlers,
    private readonly stopped: () => boolean,
  ) {}

  get doneArmed(): boolean {
    return this.done !== null;
  }

  /** Adds the dag/waiting watch if not added yet (on a path not made yet, a root of an older drover, it fires as it is made). */
  async armWaiting(): Promise<void> {
    if (this.waiting) return;
    const w = await this.session.watchTree(this.dag.waitingDir, (e) => this.on.waiting(e), () => this.on.waitingReset());
    if (this.stopped()) return void (await w.close().catch(() => undefined));
    this.waiting = w;
  }

  async armDone(): Promise<void> {
    if (this.done || this.stopped()) return;
    const w = await this.session.watchTree(this.dag.paths.done, (e) => this.on.done(e), () => this.on.doneReset());
    if (this.stopped()) return void (await w.close().catch(() => undefined));
    this.done = w;
    this.doneArms++;
  }

  async disarmDone(): Promise<void> {
    const w = this.done;
    this.done = null;
    await w?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const ws = [this.waiting, this.done];
    this.waiting = this.done = null;
    await Promise.all(ws.map((w) => w?.close().catch(() => undefined)));
  }
}

/** The task id of `<dir>/<shard>/<name>` (a done entry's name parsed), or null (the directory, a shard, deeper). */
export function taskUnder(path: string, dir: string, doneEntry: boolean): string | null {
  if (!path.startsWith(`${dir}/`)) return null;
  const rest = path.slice(dir.length + 1);
  const slash = rest.indexOf('/');
  if (slash < 0 || rest.indexOf('/', slash + 1) >= 0) return null;
  const name = rest.slice(slash + 1);
  if (!doneEntry) return name;
  return Paths.parseDoneEntry(name)?.taskId ?? null;
}
