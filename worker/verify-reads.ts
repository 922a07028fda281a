// The read-backs that verify commits whose outcome is unknown (and starts, and the reasons
// of fenced attempts), batched. A group commit that lost its connection leaves every one of
// its items to verify at once (and after a quorum loss, every worker at once): the reads
// asked for in one event-loop turn go together, one listing of the member's directory (does
// the assignment still exist?) and the records in multiReads packed by the size the commit
// would have written (burst-reads' groupBySize), pooled (eachGroup: a few big replies in
// flight at once), each retried across connection loss as any read. While one such round is
// in flight, what is asked meanwhile waits for it and goes together in the next (withdrawals
// seen one event at a time still share a read). Each asker is settled by its own group's
// reply (and its member's listing): one failed request fails only its own askers.
import type { Paths } from '../shared/protocol/paths.js';
import { encodeRecord, type TaskRecord } from '../shared/protocol/task-record.js';
import type { ReadResult as TaskRead } from '../shared/protocol/task-store.js';
import { NoNodeError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { eachGroup, groupBySize, heavyGroup, taskRead } from './burst-reads.js';

export interface VerifyRead {
  read: TaskRead;
  /** The attempt's assignment node still exists. */
  assigned: boolean;
}

interface Asked {
  taskId: string;
  /** The assignment to look for in its member's directory; none: the record only. */
  held?: { member: string; key: string };
  bytes: number;
  resolve(v: VerifyRead): void;
  reject(err: unknown): void;
}

export class VerifyReads {
  private asked: Asked[] = [];
  private scheduled = false;
  /** A round of reads is in flight: new asks wait for the next. */
  private flushing = false;
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
    return this.ask(a.taskId, { member: a.member, key: a.key }, encodeRecord(expected).length);
  }

  /** The record of `taskId` alone (no listing), sized as `like` (a record it had). */
  async record(taskId: string, like: TaskRecord): Promise<TaskRead> {
    return (await this.ask(taskId, undefined, encodeRecord(like).length)).read;
  }

  private ask(taskId: string, held: Asked['held'], bytes: number): Promise<VerifyRead> {
    return new Promise((resolve, reject) => {
      this.asked.push({ taskId, ...(held ? { held } : {}), bytes, resolve, reject });
      this.schedule();
    });
  }

  /** The next round at the end of this turn (what is asked in the same turn goes together), or after the one in flight. */
  private schedule(): void {
    if (this.scheduled || this.flushing || this.asked.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const asked = this.asked;
      this.asked = [];
      this.flushing = true;
      this.flush(asked)
        // Every asker is settled in flush; this is for a fault of flush itself.
        .catch((err: unknown) => asked.forEach((x) => x.reject(err)))
        .finally(() => {
          this.flushing = false;
          this.schedule();
        });
    });
  }

  private async flush(asked: Asked[]): Promise<void> {
    const { session, paths } = this;
    const listings = new Map<string, Promise<Set<string>>>();
    for (const x of asked) {
      const m = x.held?.member;
      if (m === undefined || listings.has(m)) continue;
      const p = session.retrying(() => session.getChildren(paths.assignDir(m))).then(
        ({ children }) => new Set(children.map((n) => paths.assignmentAt(m, n))),
        (err: unknown) => {
          if (err instanceof NoNodeError) return new Set<string>();
          throw err;
        },
      );
      p.catch(() => undefined); // awaited by its askers, after their records
      listings.set(m, p);
    }
    const bytesOf = (x: Asked) => x.bytes;
    await eachGroup(groupBySize(asked, bytesOf), heavyGroup(bytesOf), async (g) => {
      let got: Awaited<ReturnType<ZkSession['getDataMany']>>;
      try {
        const nodes = g.map((x) => paths.task(x.taskId));
        got = await session.retrying(() => session.getDataMany(nodes, { maxPerRequest: g.length }));
      } catch (err) {
        g.forEach((x) => x.reject(err));
        return;
      }
      g.forEach((x, i) => void settle(x, () => taskRead(got[i]!, x.taskId, paths.task(x.taskId)), x.held && listings.get(x.held.member)));
    });
  }
}

/** Settles `x` with its record (as `read` gives it) and, if it asked, whether its assignment is listed. */
async function settle(x: Asked, read: () => TaskRead, listing: Promise<Set<string>> | undefined): Promise<void> {
  try {
    const r = read();
    x.resolve({ read: r, assigned: listing ? (await listing).has(x.held!.key) : false });
  } catch (err) {
    x.reject(err);
  }
}
