// The only place znode paths are built or parsed.
//
// <root>/layout                                 {format, shards}: written once, last, by ensureLayout
// <root>/election/c_<session>_<seq>             ephemeral sequential: master candidates (names: shared/zk/election.ts)
// <root>/workers/<workerId>~<incarnation>       ephemeral: one per live worker session
// <root>/assign/<workerId>~<incarnation>/<taskId>~<attempt>   persistent: a task given to a worker
// <root>/tasks/<shard>/<taskId>                 persistent: the task record
// <root>/queue/<shard>/<prio>-<notBefore>-<taskId>[~b]   persistent: pending index, sorts by priority then age;
//                                               ~b: the record is big (over 16 KiB), read alone
// <root>/done/<shard>/<finishedAt>-<taskId>     persistent: finished index, for retention
// <root>/leader-status                          persistent: what the leader sees the queue wait for (small, capped)
// <root>/control/paused                         persistent: the paused scopes, JSON {all, types} (control.ts); absent: none
// <root>/control/drain/<workerId>               persistent: a drain request {requestedAt}, removed by the worker as it leaves
//                                               (control/ is made on first use: roots of older drovers lack it)
// <root>/control/limits                         persistent: rate limits and quotas per task type or label, JSON (limits.ts); absent: none
// <root>/dag/...                                persistent: task dependencies (shared/protocol/dag-*.ts says what lies below);
//                                               made on first use
// <root>/schedules/<name>                       persistent: a cron schedule and its cursor (shared/protocol/schedule*.ts); made on first use
// <root>/destroying                             persistent: admin destroy's tombstone {shards, createdAt, since}, made with
//                                               layout's removal in one multi; no process uses or re-creates such a root
//
// Directories that grow with the number of tasks are sharded by a hash of the task id, so a
// million tasks means ~4k children a directory with the default 256 shards, far below the
// reply size limit (jute.maxbuffer). The incarnation (the worker's session id) in member and
// assignment names keeps a restarted worker apart from its previous life, and the attempt in
// the assignment name keeps a new assignment apart from an old one at the same task (ABA).

import { InvalidIdError, assertRoot, assertTaskId, assertWorkerId } from './id-checks.js';

export const LAYOUT_FORMAT = 1;
export const DEFAULT_SHARDS = 256;
export const MAX_PRIORITY = 9999;

export { InvalidIdError, assertRoot, assertTaskId, assertWorkerId };

/** FNV-1a, 32 bit: cheap, stable across processes and versions. */
function shardWidth(shards: number): number {
  return Math.max(1, (shards - 1).toString(16).length);
}

export function shardOf(taskId: string, shards: number): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < taskId.length; i++) {
    h ^= taskId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 0) % shards).toString(16).padStart(shardWidth(shards), '0');
}

export function allShards(shards: number): string[] {
  return Array.from({ length: shards }, (_, i) => i.toString(16).padStart(shardWidth(shards), '0'));
}

/** Where a queue entry's name holds its not-before time: the 13 digits after "pppp-". */
export const QUEUE_NOT_BEFORE_CHARS = { from: 5, to: 18 } as const;

export interface QueueEntry {
  name: string;
  shard: string;
  priority: number;
  /** Not to be assigned before this time (ms since epoch): createdAt, or the backoff's end. */
  notBefore: number;
  taskId: string;
  /** The record behind it is big (BIG_RECORD_BYTES, task-ops.ts): the leader reads it alone.
   *  Entries written before the marker existed never carry it. */
  big: boolean;
}

/** Marks the name of a queue entry whose record is big. Task ids cannot hold `~`, so it cannot collide. */
const BIG_MARK = '~b';
const QUEUE_ENTRY_RE = /^(\d{4})-(\d{13})-(.+?)(~b)?$/;

export interface AssignmentName {
  taskId: string;
  attempt: number;
}

/** What a znode of the layout is: a transition's verdict names the one that refused. */
export type Part = 'election' | 'member' | 'member-dir' | 'assignment' | 'record' | 'queue-entry' | 'done-entry' | 'other';

export interface MemberName {
  workerId: string;
  incarnation: string;
}

export class Paths {
  readonly root: string;
  readonly shards: number;

  constructor(root: string, shards = DEFAULT_SHARDS) {
    assertRoot(root);
    if (!Number.isInteger(shards) || shards < 1 || shards > 4096) {
      throw new Error(`invalid shard count ${shards}: use 1..4096`);
    }
    this.root = root === '/' ? '' : root;
    this.shards = shards;
  }

  get layout(): string {
    return `${this.root}/layout`;
  }
  get election(): string {
    return `${this.root}/election`;
  }
  get workers(): string {
    return `${this.root}/workers`;
  }
  get assign(): string {
    return `${this.root}/assign`;
  }
  get tasks(): string {
    return `${this.root}/tasks`;
  }
  get queue(): string {
    return `${this.root}/queue`;
  }
  get done(): string {
    return `${this.root}/done`;
  }
  /** The leader's published account of queued tasks no live worker can take (written fenced, throttled). */
  get leaderStatus(): string {
    return `${this.root}/leader-status`;
  }

  // ---- cluster control (shared/protocol/control.ts): not part of layoutDirs, made on first use ----
  get control(): string {
    return `${this.root}/control`;
  }
  get controlPaused(): string {
    return `${this.control}/paused`;
  }
  get controlDrain(): string {
    return `${this.control}/drain`;
  }
  /** Rate limits and quotas (shared/protocol/limits.ts): watched by the leader with the rest of control/. */
  get controlLimits(): string {
    return `${this.control}/limits`;
  }
  /** Task dependencies: what lies below is shared/protocol/dag-*.ts's (made on first use). */
  get dag(): string {
    return `${this.root}/dag`;
  }
  /** Cron schedules, one znode each (shared/protocol/schedule*.ts; made on first use). */
  get schedules(): string {
    return `${this.root}/schedules`;
  }
  /** The tombstone of a root `drover admin destroy` began removing (client/admin-destroy.ts). */
  get destroying(): string {
    return `${this.root}/destroying`;
  }
  drainRequest(workerId: string): string {
    assertWorkerId(workerId);
    return `${this.controlDrain}/${workerId}`;
  }

  /** Every name a root holds at its top level (layout's, leader-status, control, the tombstone); nothing else is drover's. */
  topLevelNames(): string[] {
    const top = [this.layout, this.election, this.workers, this.assign, this.tasks, this.queue, this.done, this.leaderStatus, this.control, this.dag, this.schedules, this.destroying];
    return top.map((p) => p.slice(this.root.length + 1));
  }

  /** Every persistent directory the layout needs, parents first. */
  layoutDirs(): string[] {
    const dirs = [this.root || '/', this.election, this.workers, this.assign, this.tasks, this.queue, this.done];
    for (const s of allShards(this.shards)) {
      dirs.push(`${this.tasks}/${s}`, `${this.queue}/${s}`, `${this.done}/${s}`);
    }
    return dirs.filter((d) => d !== '/');
  }

  /** Every shard name, in order. */
  get shardNames(): readonly string[] {
    return (this._shardNames ??= allShards(this.shards));
  }
  private _shardNames?: string[];

  shard(taskId: string): string {
    return shardOf(taskId, this.shards);
  }

  task(taskId: string): string {
    return `${this.tasks}/${this.shard(taskId)}/${taskId}`;
  }
  taskShard(shard: string): string {
    return `${this.tasks}/${shard}`;
  }

  // ---- membership ----
  static memberName(workerId: string, incarnation: string): string {
    return `${workerId}~${incarnation}`;
  }
  static parseMember(name: string): MemberName | null {
    const i = name.lastIndexOf('~');
    if (i <= 0) return null;
    return { workerId: name.slice(0, i), incarnation: name.slice(i + 1) };
  }
  member(memberName: string): string {
    return `${this.workers}/${memberName}`;
  }

  // ---- assignments ----
  assignDir(memberName: string): string {
    return `${this.assign}/${memberName}`;
  }
  static assignmentName(taskId: string, attempt: number): string {
    return `${taskId}~${attempt}`;
  }
  static parseAssignment(name: string): AssignmentName | null {
    const i = name.lastIndexOf('~');
    if (i <= 0) return null;
    const attempt = Number(name.slice(i + 1));
    if (!Number.isInteger(attempt) || attempt < 1) return null;
    return { taskId: name.slice(0, i), attempt };
  }
  assignment(memberName: string, taskId: string, attempt: number): string {
    return this.assignmentAt(memberName, Paths.assignmentName(taskId, attempt));
  }
  /** The node `name` (as listed) in a member's assignment directory. */
  assignmentAt(memberName: string, name: string): string {
    return `${this.assignDir(memberName)}/${name}`;
  }

  // ---- queue ----
  static queueEntryName(priority: number, notBefore: number, taskId: string, big = false): string {
    const p = Math.min(MAX_PRIORITY, Math.max(0, Math.trunc(priority)));
    // Higher priority must sort first: store its complement.
    return `${String(MAX_PRIORITY - p).padStart(4, '0')}-${String(Math.max(0, Math.trunc(notBefore))).padStart(13, '0')}-${taskId}${big ? BIG_MARK : ''}`;
  }
  static parseQueueEntry(shard: string, name: string): QueueEntry | null {
    const m = QUEUE_ENTRY_RE.exec(name);
    if (!m) return null;
    return { name, shard, priority: MAX_PRIORITY - Number(m[1]), notBefore: Number(m[2]), taskId: m[3]!, big: m[4] !== undefined };
  }
  /** Whether `name` is a queue entry's name (what parseQueueEntry accepts), without building one. */
  static isQueueEntryName(name: string): boolean {
    return QUEUE_ENTRY_RE.test(name);
  }
  /** A queue entry name's not-before time (ms): its characters 5..17. */
  static queueEntryNotBefore(name: string): number {
    return Number(name.slice(QUEUE_NOT_BEFORE_CHARS.from, QUEUE_NOT_BEFORE_CHARS.to));
  }
  queueShard(shard: string): string {
    return `${this.queue}/${shard}`;
  }
  queueEntry(taskId: string, priority: number, notBefore: number, big = false): string {
    return `${this.queue}/${this.shard(taskId)}/${Paths.queueEntryName(priority, notBefore, taskId, big)}`;
  }
  queueEntryPath(e: QueueEntry): string {
    return `${this.queue}/${e.shard}/${e.name}`;
  }
  /** The shard and name of queue/<shard>/<name> (a tree watch's path), or null for any other path. */
  parseQueuePath(path: string): { shard: string; name: string } | null {
    const prefix = this.queue.length + 1;
    if (path.length <= prefix || !path.startsWith(this.queue) || path.charCodeAt(prefix - 1) !== 47 /* / */) return null;
    const slash = path.indexOf('/', prefix);
    if (slash < 0 || path.indexOf('/', slash + 1) >= 0) return null;
    return { shard: path.slice(prefix, slash), name: path.slice(slash + 1) };
  }

  // ---- finished index ----
  static doneEntryName(finishedAt: number, taskId: string): string {
    return `${String(Math.max(0, Math.trunc(finishedAt))).padStart(13, '0')}-${taskId}`;
  }
  static parseDoneEntry(name: string): { finishedAt: number; taskId: string } | null {
    const m = /^(\d{13})-(.+)$/.exec(name);
    return m ? { finishedAt: Number(m[1]), taskId: m[2]! } : null;
  }
  doneShard(shard: string): string {
    return `${this.done}/${shard}`;
  }
  doneEntry(taskId: string, finishedAt: number): string {
    return this.doneEntryAt(this.shard(taskId), Paths.doneEntryName(finishedAt, taskId));
  }
  /** The entry `name` (as listed) of a done shard. */
  doneEntryAt(shard: string, name: string): string {
    return `${this.doneShard(shard)}/${name}`;
  }

  /** Which part of the layout `path` is (by where it sits under the root). */
  partOf(path: string): Part {
    if (!path.startsWith(`${this.root}/`)) return 'other';
    const [dir, ...rest] = path.slice(this.root.length + 1).split('/');
    const depth = rest.length;
    if (dir === 'election' && depth === 1) return 'election';
    if (dir === 'workers' && depth === 1) return 'member';
    if (dir === 'assign' && depth === 1) return 'member-dir';
    if (dir === 'assign' && depth === 2) return 'assignment';
    if (dir === 'tasks' && depth === 2) return 'record';
    if (dir === 'queue' && depth === 2) return 'queue-entry';
    if (dir === 'done' && depth === 2) return 'done-entry';
    return 'other';
  }
}
