// The library API for applications: submit tasks, await them, read, list, cancel, and see
// the cluster. Every write is one multi built by shared/protocol/task-ops.
import { silentLogger, type Logger } from '../shared/log.js';
import { ensureLayout, openLayout } from '../shared/protocol/layout.js';
import { Paths } from '../shared/protocol/paths.js';
import { cancelOps, opsBytes, submitOps, type AssignmentData } from '../shared/protocol/task-ops.js';
import { MalformedRecordError, checkLimits, decodeRecord, newTaskRecord, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { isTerminal, type TaskState, TASK_STATES } from '../shared/protocol/task-state.js';
import { listCandidates, readLeader } from '../shared/zk/election.js';
import { ConnectionLossError, NoNodeError, NodeExistsError, SessionExpiredError, ZkError } from '../shared/zk/errors.js';
import type { MemberInfo } from '../shared/zk/membership.js';
import { parseConnectString } from '../shared/zk/connect-string.js';
import { ZkSession, type Op } from '../shared/zk/session.js';

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

export interface SubmitResult {
  id: string;
  /** False when a task with this id already existed (submission is idempotent by id). */
  created: boolean;
  record: TaskRecord;
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
  inProgress: number;
  finished: number;
}

export class TaskNotFoundError extends Error {
  override name = 'TaskNotFoundError';
  constructor(readonly taskId: string) {
    super(`task ${taskId} not found`);
  }
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
  constructor(
    readonly taskId: string,
    readonly state: TaskState,
  ) {
    super(`task ${taskId} is still ${state}`);
  }
}

const MAX_BATCH_BYTES = 400 * 1024;
const MAX_BATCH_TASKS = 200;

export class DroverClient {
  private constructor(
    private readonly session: ZkSession,
    private readonly ownsSession: boolean,
    readonly paths: Paths,
    readonly limits: SizeLimits,
    private readonly log: Logger,
    private readonly reconnectTimeoutMs: number,
  ) {}

  static async connect(opts: DroverClientOptions): Promise<DroverClient> {
    const limits = checkLimits(opts.limits);
    const log = (opts.log ?? silentLogger).child({ component: 'client' });
    let session = opts.session;
    const owns = !session;
    if (!session) {
      if (!opts.connectString) throw new Error('client: connectString or session is required');
      // A typed InvalidConnectStringError, not a RangeError from the library's socket.
      parseConnectString(opts.connectString);
      session = await ZkSession.open({
        connectString: opts.connectString,
        sessionTimeoutMs: opts.sessionTimeoutMs ?? 6000,
        connectTimeoutMs: opts.connectTimeoutMs,
        log,
      });
    }
    try {
      const root = opts.root ?? '/drover';
      const paths = opts.createLayout === false ? await openLayout(session, root) : await ensureLayout(session, root);
      if (!paths) throw new NoClusterError(`no drover cluster under ${root} (nothing has run there; check --root)`);
      return new DroverClient(session, owns, paths, limits, log, opts.reconnectTimeoutMs ?? 30_000);
    } catch (err) {
      if (owns) await session.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.ownsSession) await this.session.close();
  }

  /** Submits one task: record and queue entry in one multi. Same id twice → one task. */
  async submit(input: SubmitInput): Promise<SubmitResult> {
    return this.submitRecord(newTaskRecord(input, this.limits), false);
  }

  /**
   * `triedBefore`: an earlier multi carrying this very record may have gone through (its
   * reply was lost); finding the task with our createdAt then means we created it.
   */
  private async submitRecord(rec: TaskRecord, triedBefore: boolean): Promise<SubmitResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.session.multi(submitOps(this.paths, rec));
        this.log.debug({ taskId: rec.id, type: rec.type }, 'submitted');
        return { id: rec.id, created: true, record: rec };
      } catch (err) {
        if (err instanceof NodeExistsError && err.opIndex === 0) {
          const r = await readTask(this.session, this.paths, rec.id);
          if (r.kind !== 'ok') throw new Error(`task ${rec.id} exists but cannot be read (${r.kind})`);
          // Our own earlier try whose reply was lost carries our createdAt.
          return { id: rec.id, created: (triedBefore || attempt > 0) && r.record.createdAt === rec.createdAt, record: r.record };
        }
        // The connection, or after a long outage the session, is being re-established: a
        // submission holds nothing in the session, so it simply goes again once connected
        // (an earlier try that did go through is found above by its createdAt).
        if ((err instanceof ConnectionLossError || err instanceof SessionExpiredError) && attempt < 5) {
          await this.session.waitConnected().catch(() => undefined);
          continue;
        }
        throw err;
      }
    }
  }

  /** Submits many tasks in batched multis; returns one result per input, in order. */
  async submitMany(inputs: SubmitInput[]): Promise<SubmitResult[]> {
    const recs = inputs.map((i) => newTaskRecord(i, this.limits));
    const results: SubmitResult[] = new Array(recs.length);
    let i = 0;
    while (i < recs.length) {
      const start = i;
      const ops: Op[] = [];
      while (i < recs.length && i - start < MAX_BATCH_TASKS) {
        const o = submitOps(this.paths, recs[i]!);
        if (i > start && opsBytes(ops) + opsBytes(o) > MAX_BATCH_BYTES) break;
        ops.push(...o);
        i++;
      }
      try {
        await this.session.multi(ops);
        for (let k = start; k < i; k++) results[k] = { id: recs[k]!.id, created: true, record: recs[k]! };
      } catch (err) {
        if (!(err instanceof ZkError)) throw err;
        // A duplicate id (or an unknown outcome) in the batch: fall back to one by one, each idempotent.
        // The same records (same createdAt): a batch whose reply was lost is recognised as ours.
        for (let k = start; k < i; k++) results[k] = await this.submitRecord(recs[k]!, err instanceof ConnectionLossError || err instanceof SessionExpiredError);
      }
    }
    return results;
  }

  /** The whole record (null if there is no such task), with progress while running. */
  async get(id: string): Promise<TaskView | null> {
    const r = await readTask(this.session, this.paths, id);
    if (r.kind === 'missing') return null;
    if (r.kind === 'malformed') throw new Error(`task ${id} has a malformed record: ${r.reason}`);
    const view: TaskView = { ...r.record };
    if ((view.state === 'running' || view.state === 'assigned') && view.worker) {
      try {
        const { data } = await this.session.getData(this.paths.assignment(view.worker, id, view.attempt));
        const a = JSON.parse(data.toString('utf8')) as AssignmentData & { progress?: unknown };
        if (a.progress !== undefined) view.progress = a.progress;
      } catch {
        /* finished meanwhile */
      }
    }
    return view;
  }

  /** Resolves with the record once it is terminal (watch-driven, no polling). */
  async wait(id: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<TaskRecord> {
    if (opts.timeoutMs !== undefined && !(opts.timeoutMs >= 0)) throw new TypeError(`wait: timeoutMs must be a number >= 0, got ${opts.timeoutMs}`);
    const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;
    for (;;) {
      opts.signal?.throwIfAborted();
      let fired!: () => void;
      const changed = new Promise<void>((r) => (fired = r));
      let rec: TaskRecord | null;
      try {
        const { data } = await this.session.retrying(() => this.session.getData(this.paths.task(id), () => fired()));
        // A malformed record is not an outcome: the leader marks it failed, and we see that.
        try {
          rec = decodeRecord(data, id);
        } catch (err) {
          if (!(err instanceof MalformedRecordError)) throw err;
          rec = null;
        }
      } catch (err) {
        if (err instanceof NoNodeError) throw new TaskNotFoundError(id);
        if (err instanceof ZkError && err.code === 'SESSION_EXPIRED') {
          await this.session.waitConnected(this.reconnectTimeoutMs);
          continue;
        }
        throw err;
      }
      if (rec && isTerminal(rec.state)) return rec;
      const left = deadline - Date.now();
      if (left <= 0) throw new WaitTimeoutError(id, rec?.state ?? 'queued');
      // Re-read on the watch, on a new session (watches die with it), at the deadline, or
      // when the session is lost: the re-read then waits a bounded time for ZooKeeper, so a
      // wait never hangs on a ZooKeeper that has gone away (or lost its quorum).
      await new Promise<void>((resolve, reject) => {
        const done = (err?: unknown) => {
          clearTimeout(t);
          this.session.off('session', onSession);
          this.session.off('state', onState);
          opts.signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve();
        };
        // setTimeout fires at once past 2^31-1 ms: wake up then and go round again.
        const t = left === Infinity ? undefined : setTimeout(() => done(), Math.min(left, 2_147_483_647));
        const onSession = () => done();
        const onState = (st: string) => {
          if (st === 'expired' || st === 'closed') done();
        };
        const onAbort = () => done(opts.signal!.reason ?? new Error('aborted'));
        this.session.on('session', onSession);
        this.session.on('state', onState);
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        if (opts.signal?.aborted) onAbort(); // aborted before the listener was added
        void changed.then(() => done());
      });
    }
  }

  /**
   * Cancels a task: a queued one leaves the queue; a running one loses its assignment, so
   * its worker aborts it and cannot commit. `cancelled` says whether this call cancelled it;
   * a task already finished keeps its outcome.
   */
  async cancel(id: string, reason = 'cancelled by request'): Promise<{ cancelled: boolean; state: TaskState }> {
    // One timestamp for every try: a try whose reply was lost is recognised by it.
    const now = Date.now();
    let unsure = false;
    for (let tries = 0; tries < 10; tries++) {
      try {
        const r = await readTask(this.session, this.paths, id);
        if (r.kind === 'missing') throw new TaskNotFoundError(id);
        if (r.kind === 'malformed') throw new Error(`task ${id} has a malformed record: ${r.reason}`);
        if (isTerminal(r.record.state)) {
          const ours = unsure && r.record.state === 'cancelled' && r.record.finishedAt === now && r.record.error?.message === reason;
          return { cancelled: ours, state: r.record.state };
        }
        const t = cancelOps(this.paths, { record: r.record, version: r.version }, reason, now);
        await this.session.multi(t.ops);
        return { cancelled: true, state: 'cancelled' };
      } catch (err) {
        // The task moved (assigned, finished) between read and write: look again.
        if (err instanceof ZkError && (err.code === 'BAD_VERSION' || err.code === 'NO_NODE' || err.code === 'NODE_EXISTS')) continue;
        // The connection or the session is being re-established: a multi may have gone
        // through; look again once connected (a cancel holds nothing in the session).
        if (err instanceof ConnectionLossError || err instanceof SessionExpiredError) {
          unsure = true;
          await this.session.waitConnected().catch(() => undefined);
          continue;
        }
        throw err;
      }
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
    const l = await readLeader(this.session, this.paths);
    return l ? { id: l.id, host: l.host, pid: l.pid, epoch: l.epoch } : null;
  }

  /** Leader, masters, workers with their load, queue depth, counts: from stats, no record reads. */
  async status(): Promise<ClusterStatus> {
    const [leader, masters, workerNames] = await Promise.all([
      readLeader(this.session, this.paths),
      listCandidates(this.session, this.paths),
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
    const count = async (dir: (shard: string) => string) => {
      const stats = await Promise.all(this.paths.shardNames.map((s) => this.session.retrying(() => this.session.exists(dir(s)))));
      return stats.reduce((n, st) => n + (st?.numChildren ?? 0), 0);
    };
    const [depth, finished] = await Promise.all([count((s) => this.paths.queueShard(s)), count((s) => this.paths.doneShard(s))]);
    return {
      root: this.paths.root || '/',
      leader: leader ? { id: leader.id, host: leader.host, pid: leader.pid, epoch: leader.epoch } : null,
      masters: masters.map((m) => ({ id: m.id, host: m.host, pid: m.pid, epoch: m.epoch, leader: leader?.epoch === m.epoch })),
      workers: workers.sort((a, b) => (a.name < b.name ? -1 : 1)),
      queue: { depth },
      inProgress: workers.reduce((n, w) => n + w.load, 0),
      finished,
    };
  }
}

export { Paths };
