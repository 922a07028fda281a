// The library API for applications: submit tasks, await them, read, list, cancel, and see
// the cluster. Every write is a transition of shared/protocol/transitions.ts (one multi each).
import { DEFAULT_ROOT, DEFAULT_SESSION_TIMEOUT_MS } from '../shared/defaults.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { ensureLayout, openLayout } from '../shared/protocol/layout.js';
import { cutMessage } from '../shared/protocol/messages.js';
import { Paths } from '../shared/protocol/paths.js';
import type { AssignmentData } from '../shared/protocol/task-ops.js';
import { cancel, heldAt } from '../shared/protocol/transitions.js';
import { checkLimits, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { isTerminal, type TaskState, TASK_STATES } from '../shared/protocol/task-state.js';
import { listCandidates, readLeader } from '../shared/zk/election.js';
import { ConnectionLossError, NoNodeError, SessionExpiredError, ZkError } from '../shared/zk/errors.js';
import type { MemberInfo } from '../shared/zk/membership.js';
import { parseConnectString } from '../shared/zk/connect-string.js';
import { ZkSession } from '../shared/zk/session.js';
import { queueWaiting, type WaitingClass, type WaitingSample } from './status-waiting.js';
import { Submitter, type SubmitResult } from './submit.js';
import { TaskNotFoundError, Waiters, type WaitOptions } from './waiters.js';

export { TaskNotFoundError, WaitTimeoutError, type WaitOptions } from './wait-errors.js';
export type { SubmitResult } from './submit.js';
export type { WaitingClass, WaitingSample } from './status-waiting.js';

export interface DroverClientOptions {
  connectString?: string;
  /** Use this session (not closed by the client). */
  session?: ZkSession;
  root?: string;
  sessionTimeoutMs?: number;
  /** How long connect() waits for ZooKeeper. */
  connectTimeoutMs?: number;
  /**
   * How long a call that is waiting (wait(), submit --wait) waits for ZooKeeper to come back
   * once its session is lost before it fails with ConnectionLossError. Default 30 s.
   */
  reconnectTimeoutMs?: number;
  limits?: Partial<SizeLimits>;
  /**
   * Waits on up to this many task ids at once each watch their record; past it, one watch on
   * the finished index serves them all and records are read in multiReads (a watch per
   * record costs a request per task, and every one of them is re-sent on a reconnect).
   * Default 1000.
   */
  recordWatchLimit?: number;
  log?: Logger;
  /**
   * Create the root's layout when it is missing (default true). False for a client that only
   * reads: a mistyped root is then a NoClusterError, not a new empty cluster.
   */
  createLayout?: boolean;
}

/** No drover layout under the root (nothing has run there, or the root is mistyped). */
export class NoClusterError extends Error {
  override name = 'NoClusterError';
}

export interface TaskView extends TaskRecord {
  /** Last value the handler passed to ctx.progress(), while it runs. */
  progress?: unknown;
}

export interface WorkerStatus extends MemberInfo {
  name: string;
  load: number;
}

export interface ClusterStatus {
  root: string;
  leader: { id: string; host: string; pid: number; epoch: number } | null;
  masters: Array<{ id: string; host: string; pid: number; epoch: number; leader: boolean }>;
  workers: WorkerStatus[];
  queue: { depth: number };
  /** Queued tasks no live worker can take (no handler for the type, labels nobody has), by type and labels. */
  waiting: WaitingClass[];
  /** How many queued records `waiting` rests on: counts are scaled estimates when read < of. */
  waitingSample: WaitingSample;
  inProgress: number;
  finished: number;
}

export class DroverClient {
  private readonly submitter: Submitter;
  private readonly waiters: Waiters;

  private constructor(
    private readonly session: ZkSession,
    private readonly ownsSession: boolean,
    readonly paths: Paths,
    readonly limits: SizeLimits,
    log: Logger,
    reconnectTimeoutMs: number,
    recordWatchLimit?: number,
  ) {
    this.submitter = new Submitter(session, paths, limits, log);
    this.waiters = new Waiters(session, paths, reconnectTimeoutMs, recordWatchLimit);
  }

  static async connect(opts: DroverClientOptions): Promise<DroverClient> {
    const limits = checkLimits(opts.limits);
    const watchLimit = opts.recordWatchLimit;
    if (watchLimit !== undefined && !(watchLimit >= 0)) throw new TypeError(`client: recordWatchLimit must be a number >= 0, got ${watchLimit}`);
    const log = (opts.log ?? silentLogger).child({ component: 'client' });
    let session = opts.session;
    const owns = !session;
    if (!session) {
      if (!opts.connectString) throw new Error('client: connectString or session is required');
      // A typed InvalidConnectStringError, not a RangeError from the library's socket.
      parseConnectString(opts.connectString);
      session = await ZkSession.open({
        connectString: opts.connectString,
        sessionTimeoutMs: opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
        connectTimeoutMs: opts.connectTimeoutMs,
        log,
      });
    }
    try {
      const root = opts.root ?? DEFAULT_ROOT;
      const paths = opts.createLayout === false ? await openLayout(session, root) : await ensureLayout(session, root);
      if (!paths) throw new NoClusterError(`no drover cluster under ${root} (nothing has run there; check --root)`);
      return new DroverClient(session, owns, paths, limits, log, opts.reconnectTimeoutMs ?? 30_000, opts.recordWatchLimit);
    } catch (err) {
      if (owns) await session.close();
      throw err;
    }
  }

  /**
   * Ends this client: its waits reject with SessionClosedError and its listeners and watches
   * leave the session; then the session is closed if the client opened it (a session given to
   * connect() lives on). Later waits are refused.
   */
  async close(): Promise<void> {
    this.waiters.close();
    if (this.ownsSession) await this.session.close();
  }

  /** Submits one task: record and queue entry in one multi. Same id twice → one task. */
  async submit(input: SubmitInput): Promise<SubmitResult> {
    return this.submitter.submit(input);
  }

  /** Submits many tasks in batched multis; returns one result per input, in order. */
  async submitMany(inputs: SubmitInput[]): Promise<SubmitResult[]> {
    return this.submitter.submitMany(inputs);
  }

  /** The whole record (null if there is no such task), with progress while running. */
  async get(id: string): Promise<TaskView | null> {
    const r = await readTask(this.session, this.paths, id);
    if (r.kind === 'missing') return null;
    if (r.kind === 'malformed') throw new Error(`task ${id} has a malformed record: ${r.reason}`);
    const view: TaskView = { ...r.record };
    const assignment = heldAt(this.paths, r.record);
    if (assignment) {
      try {
        const { data } = await this.session.getData(assignment);
        const a = JSON.parse(data.toString('utf8')) as AssignmentData & { progress?: unknown };
        if (a.progress !== undefined) view.progress = a.progress;
      } catch {
        /* finished meanwhile */
      }
    }
    return view;
  }

  /**
   * Resolves with the record once it is terminal (watch-driven, no polling). Many waits share
   * the client's listeners, and waits on one id share its watch (client/waiters.ts).
   */
  async wait(id: string, opts: WaitOptions = {}): Promise<TaskRecord> {
    return this.waiters.wait(id, opts);
  }

  /**
   * Every record once terminal, in the order of `ids` (the waits of wait(), made at once: past
   * recordWatchLimit ids they share one watch on the finished index). The first failure
   * rejects it and ends its other waits.
   */
  async waitMany(ids: readonly string[], opts: WaitOptions = {}): Promise<TaskRecord[]> {
    return this.waiters.waitMany(ids, opts);
  }

  /**
   * Cancels a task: a queued one leaves the queue; a running one loses its assignment, so
   * its worker aborts it and cannot commit. `cancelled` says whether this call cancelled it;
   * a task already finished keeps its outcome.
   */
  async cancel(id: string, reason = 'cancelled by request'): Promise<{ cancelled: boolean; state: TaskState }> {
    // One timestamp for every try: a try whose reply was lost is recognised by it, and by
    // the reason as the record keeps it (cut like any message in a record).
    const now = Date.now();
    reason = cutMessage(String(reason));
    let unsure = false;
    for (let tries = 0; tries < 10; tries++) {
      const r = await readTask(this.session, this.paths, id).catch((err: unknown) => {
        if (err instanceof ConnectionLossError || err instanceof SessionExpiredError) return null;
        throw err;
      });
      if (r === null) {
        unsure = true;
        await this.session.waitConnected().catch(() => undefined);
        continue;
      }
      if (r.kind === 'missing') throw new TaskNotFoundError(id);
      if (r.kind === 'malformed') throw new Error(`task ${id} has a malformed record: ${r.reason}`);
      if (isTerminal(r.record.state)) {
        const ours = unsure && r.record.state === 'cancelled' && r.record.finishedAt === now && r.record.error?.message === reason;
        return { cancelled: ours, state: r.record.state };
      }
      const v = await cancel({ session: this.session, paths: this.paths }, { record: r.record, version: r.version }, reason, now);
      if (v.kind === 'committed') return { cancelled: true, state: 'cancelled' };
      // moved: the task moved (assigned, finished) between read and write: look again.
      if (v.kind === 'unknown') {
        // The connection or the session is being re-established: the multi may have gone
        // through; look again once connected (a cancel holds nothing in the session).
        unsure = true;
        await this.session.waitConnected().catch(() => undefined);
      } else if (v.kind === 'fenced') throw v.error;
    }
    throw new Error(`task ${id} kept changing; cancel gave up after 10 tries`);
  }

  /** Lists task records (reads every shard: meant for operators, bounded by `limit`). */
  async list(opts: { state?: TaskState; limit?: number } = {}): Promise<TaskRecord[]> {
    if (opts.state && !TASK_STATES.includes(opts.state)) throw new Error(`unknown state ${opts.state}; one of ${TASK_STATES.join(', ')}`);
    const limit = opts.limit ?? 1000;
    const out: TaskRecord[] = [];
    for (const shard of this.paths.shardNames) {
      if (out.length >= limit) break;
      const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.taskShard(shard)));
      const reads = await Promise.all(children.map((id) => readTask(this.session, this.paths, id)));
      for (const r of reads) {
        if (r.kind !== 'ok') continue;
        if (opts.state && r.record.state !== opts.state) continue;
        out.push(r.record);
      }
    }
    out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
    return out.slice(0, limit);
  }

  /** The leading master now (null while nobody leads). */
  async leader(): Promise<{ id: string; host: string; pid: number; epoch: number } | null> {
    const l = await readLeader(this.session, this.paths.election);
    return l ? { id: l.id, host: l.host, pid: l.pid, epoch: l.epoch } : null;
  }

  /** Leader, masters, workers with their load, queue depth, counts (from stats), and what queued tasks wait for (a bounded sample of records). */
  async status(): Promise<ClusterStatus> {
    const [leader, masters, workerNames] = await Promise.all([
      readLeader(this.session, this.paths.election),
      listCandidates(this.session, this.paths.election),
      this.session.retrying(() => this.session.getChildren(this.paths.workers)),
    ]);
    const workers = (
      await Promise.all(
        workerNames.children.map(async (name): Promise<WorkerStatus | null> => {
          try {
            const [{ data }, stat] = await Promise.all([
              this.session.retrying(() => this.session.getData(this.paths.member(name))),
              this.session.retrying(() => this.session.exists(this.paths.assignDir(name))),
            ]);
            const info = JSON.parse(data.toString('utf8')) as MemberInfo;
            return { ...info, name, load: stat?.numChildren ?? 0 };
          } catch (err) {
            if (err instanceof NoNodeError || err instanceof SyntaxError) return null;
            throw err;
          }
        }),
      )
    ).filter((w): w is WorkerStatus => w !== null);
    const perShard = async (dir: (shard: string) => string) => {
      const stats = await Promise.all(this.paths.shardNames.map((s) => this.session.retrying(() => this.session.exists(dir(s)))));
      return stats.map((st, i) => ({ shard: this.paths.shardNames[i]!, entries: st?.numChildren ?? 0 }));
    };
    const sum = (xs: Array<{ entries: number }>) => xs.reduce((n, x) => n + x.entries, 0);
    const [queued, done] = await Promise.all([perShard((s) => this.paths.queueShard(s)), perShard((s) => this.paths.doneShard(s))]);
    const depth = sum(queued);
    const finished = sum(done);
    // What no live worker can take (type, labels): read from a bounded sample of records.
    const { waiting, waitingSample } = await queueWaiting(this.session, this.paths, workers, queued);
    return {
      root: this.paths.root || '/',
      leader: leader ? { id: leader.id, host: leader.host, pid: leader.pid, epoch: leader.epoch } : null,
      masters: masters.map((m) => ({ id: m.id, host: m.host, pid: m.pid, epoch: m.epoch, leader: leader?.epoch === m.epoch })),
      workers: workers.sort((a, b) => (a.name < b.name ? -1 : 1)),
      queue: { depth },
      waiting,
      waitingSample,
      inProgress: workers.reduce((n, w) => n + w.load, 0),
      finished,
    };
  }
}

export { Paths };
