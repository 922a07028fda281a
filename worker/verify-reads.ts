// The read-backs that verify commits whose outcome is unknown, batched. A group commit that
// lost its connection leaves every one of its items to verify at once (and after a quorum
// loss, every worker at once): the reads asked for in one event-loop turn go together, one
// listing of the member's directory (does the assignment still exist?) and the records in
// multiReads packed by the size the commit would have written (burst-reads' groupBySize).
import type { Paths } from '../shared/protocol/paths.js';
import { encodeRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import type { ReadResult as TaskRead } from '../shared/protocol/task-store.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { groupBySize, taskRead } from './burst-reads.js';

export interface VerifyRead {
  read: TaskRead;
  /** The attempt's assignment node still exists. */
  assigned: boolean;
}

interface Asked {
  taskId: string;
  member: string;
  key: string;
  bytes: number;
  resolve(v: VerifyRead): void;
  reject(err: unknown): void;
}

export class VerifyReads {
  private asked: Asked[] = [];
  private scheduled = false;
  private connecting?: Promise<void>;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
  ) {}

  /** Resolves when the session is connected: one wait shared by every caller. */
  connected(): Promise<void> {
    if (this.session.state === 'connected') return Promise.resolve();
    this.connecting ??= this.session.waitConnected().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** The record of `a`'s task and whether its assignment exists; `expected` (what the commit writes) sizes the read. */
  read(a: { taskId: string; member: string; key: string }, expected: TaskRecord): Promise<VerifyRead> {
    return new Promise((resolve, reject) => {
      this.asked.push({ taskId: a.taskId, member: a.member, key: a.key, bytes: encodeRecord(expected).length, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        const asked = this.asked;
        this.asked = [];
        this.flush(asked).catch((err) => asked.forEach((x) => x.reject(err)));
      });
    });
  }

  private async flush(asked: Asked[]): Promise<void> {
    const { session, paths } = this;
    const members = [...new Set(asked.map((x) => x.member))];
    const listings = Promise.all(
      members.map(async (m) => {
        try {
          const { children } = await session.getChildren(paths.assignDir(m));
          return new Set(children.map((n) => paths.assignmentAt(m, n)));
        } catch (err) {
          if (err instanceof NoNodeError) return new Set<string>();
          throw err;
        }
      }),
    );
    const groups = groupBySize(asked, (x) => x.bytes);
    const records = Promise.all(groups.map((g) => session.getDataMany(g.map((x) => paths.task(x.taskId)), { maxPerRequest: g.length })));
    const [held, reads] = await Promise.all([listings, records]);
    const present = new Set(held.flatMap((s) => [...s]));
    groups.forEach((g, gi) => g.forEach((x, i) => x.resolve({ read: taskRead(reads[gi]![i]!, x.taskId, paths.task(x.taskId)), assigned: present.has(x.key) })));
  }
}
