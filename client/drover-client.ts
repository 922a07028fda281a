// The library API for applications: submit tasks, await them, read, list, cancel, and see
// the cluster. Every write is a transition of shared/protocol/transitions.ts (one multi each).
import { DEFAULT_ROOT, DEFAULT_SESSION_TIMEOUT_MS } from '../shared/defaults.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { ensureLayout, openLayout } from '../shared/protocol/layout.js';
import { Paths } from '../shared/protocol/paths.js';
import { checkLimits, type SizeLimits, type SubmitInput, type TaskRecord } from '../shared/protocol/task-record.js';
import type { TaskState } from '../shared/protocol/task-state.js';
import { readLeader } from '../shared/zk/election.js';
import { parseConnectString } from '../shared/zk/connect-string.js';
import { ZkSession, type ZkAuth } from '../shared/zk/session.js';
import { listTasks, type ListOptions, type TaskPage } from './list.js';
import { retryMany, retryOne, type RetryManyOptions, type RetryManyResult, type RetryResult } from './retry.js';
import { cancelById } from './cancel.js';
import { clusterStatus, type ClusterStatus } from './status.js';
import * as controls from './control.js';
import { LimitApi } from './limits.js';
import { ScheduleApi } from './schedules.js';
import { Submitter, type SubmitManyOptions } from './submit.js';
import { readTaskView, type TaskView } from './task-view.js';
import type { HandlerTypes, RecordsOf, SubmitFor, TaskId, TaskRecordOf, TaskTypeOf, TypedSubmitResult, TypeOfId, UntypedHandlers } from './typed.js';
import { Waiters, type WaitEachOptions, type WaitManyOptions, type WaitOptions } from './waiters.js';

export { TaskNotFoundError, WaitTimeoutError, type WaitOptions, type WaitManyOptions } from './wait-errors.js';
export type { WaitEachOptions } from './waiters.js';
export type { SubmitResult, SubmitManyOptions } from './submit.js';
export type { WaitingClass, WaitingSample } from './status-waiting.js';
export type { ClusterStatus, WorkerStatus, FinishedSplit } from './status.js';
export { ControlError, WorkerNotFoundError, type ControlState, type DrainRequest, type PausedScopes } from './control.js';
export type { ListOptions, TaskPage } from './list.js';
export type { RetryManyOptions, RetryManyResult, RetryResult } from './retry.js';
export type { HandlerTypes, PayloadOf, ResultOf, SubmitFor, TaskId, TaskRecordOf, TaskTypeOf, TypedSubmitResult } from './typed.js';

export interface DroverClientOptions {
  connectString?: string;
  /** Use this session (not closed by the client). */
  session?: ZkSession;
  /** ZooKeeper identities for the session it opens (ignored when `session` is given). */
  auth?: readonly ZkAuth[];
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

export type { TaskView } from './task-view.js';

/**
 * `H`: the type of the workers' handler map (`DroverClient.connect<typeof handlers>(…)`), which
 * ties each task type to its payload and result in submit, wait and waitMany (client/typed.ts).
 * Without it every type, payload and result is TaskRecord's own.
 */
export class DroverClient<H extends HandlerTypes<H> = UntypedHandlers> {
  private readonly submitter: Submitter;
  private readonly waiters: Waiters;

  private constructor(
    private readonly session: ZkSession,
    private readonly ownsSession: boolean,
    readonly paths: Paths,
    readonly limits: SizeLimits,
    log: Logger,
    private readonly reconnectTimeoutMs: number,
    recordWatchLimit?: number,
  ) {
    this.submitter = new Submitter(session, paths, limits, log);
    this.waiters = new Waiters(session, paths, reconnectTimeoutMs, recordWatchLimit);
  }

  static async connect<H extends HandlerTypes<H> = UntypedHandlers>(opts: DroverClientOptions): Promise<DroverClient<H>> {
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
        auth: opts.auth,
        sessionTimeoutMs: opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
        connectTimeoutMs: opts.connectTimeoutMs,
        log,
      });
    }
    try {
      const root = opts.root ?? DEFAULT_ROOT;
      const paths = opts.createLayout === false ? await openLayout(session, root) : await ensureLayout(session, root);
      if (!paths) throw new NoClusterError(`no drover cluster under ${root} (nothing has run there; check --root)`);
      return new DroverClient<H>(session, owns, paths, limits, log, opts.reconnectTimeoutMs ?? 30_000, opts.recordWatchLimit);
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

  /** This client, seen through handler map H's types (the same object: no request, no state). */
  typed<T extends HandlerTypes<T>>(): DroverClient<T> {
    return this as unknown as DroverClient<T>;
  }

  /**
   * Submits one task: record and queue entry in one multi. Same id twice → one task. T is
   * inferred from `type`; the input is not itself a type parameter, so a field no task has
   * (`priorty`) is a compile error — and at run time a TaskValidationError (client/submit.ts).
   */
  async submit<T extends TaskTypeOf<H>>(input: SubmitFor<H, T>): Promise<TypedSubmitResult<H, T>> {
    return (await this.submitter.submit(input as SubmitInput)) as unknown as TypedSubmitResult<H, T>;
  }

  /** Submits many tasks in batched multis; returns one result per input, in order. */
  async submitMany(inputs: ReadonlyArray<SubmitFor<H>>, opts: SubmitManyOptions = {}): Promise<Array<TypedSubmitResult<H>>> {
    return (await this.submitter.submitMany(inputs as readonly SubmitInput[], opts)) as unknown as Array<TypedSubmitResult<H>>;
  }

  /** submit() then wait(): the record of the task once terminal (any wait option applies). */
  async submitAndWait<T extends TaskTypeOf<H>>(input: SubmitFor<H, T>, opts: WaitOptions = {}): Promise<TaskRecordOf<H, T>> {
    const { id } = await this.submit<T>(input);
    return (await this.waiters.wait(id, opts)) as unknown as TaskRecordOf<H, T>;
  }

  /** The whole record (null if there is no such task), with progress while running. */
  async get(id: string): Promise<TaskView | null> {
    return readTaskView(this.session, this.paths, id);
  }

  /**
   * Resolves with the record once it is terminal (watch-driven, no polling). Many waits share
   * the client's listeners, and waits on one id share its watch (client/waiters.ts).
   */
  async wait<I extends string>(id: I, opts: WaitOptions = {}): Promise<TaskRecordOf<H, TypeOfId<H, I>>> {
    return (await this.waiters.wait(id, opts)) as unknown as TaskRecordOf<H, TypeOfId<H, I>>;
  }

  /**
   * Every record once terminal, in the order of `ids` (the waits of wait(), made at once: past
   * recordWatchLimit ids they share one watch on the finished index). The first failure
   * rejects it and ends its other waits; `onEach` hears each as it ends (for progress).
   */
  async waitMany<const Ids extends readonly string[]>(ids: Ids, opts: WaitManyOptions<TaskRecordOf<H>> = {}): Promise<RecordsOf<H, Ids>> {
    return (await this.waiters.waitMany(ids, opts as WaitManyOptions)) as unknown as RecordsOf<H, Ids>;
  }

  /**
   * waitMany for a caller that only wants `onEach` (a million ids): keeps no record once
   * `onEach` has had it, and resolves to how many tasks finished. Failures as waitMany's.
   */
  async waitEach(ids: readonly string[], opts: Omit<WaitEachOptions<TaskRecordOf<H>>, 'keep'>): Promise<number> {
    return this.waiters.waitMany(ids, { ...(opts as Omit<WaitEachOptions, 'keep'>), keep: false });
  }

  /**
   * Cancels a task: a queued one leaves the queue; a running one loses its assignment, so
   * its worker aborts it and cannot commit. `cancelled` says whether this call cancelled it;
   * a task already finished keeps its outcome.
   */
  async cancel(id: string, reason = 'cancelled by request'): Promise<{ cancelled: boolean; state: TaskState }> {
    return cancelById({ session: this.session, paths: this.paths }, id, reason);
  }

  /**
   * Queues a failed or cancelled task again with a fresh attempt budget, its history kept
   * (client/retry.ts). `retried` false: it is in another state (`state` says which).
   */
  async retry(id: string): Promise<RetryResult> {
    return retryOne({ session: this.session, paths: this.paths }, id);
  }

  /** Retries every task of a state (and type) found in the finished index, up to `limit`. */
  async retryMany(opts: RetryManyOptions): Promise<RetryManyResult> {
    return retryMany({ session: this.session, paths: this.paths }, opts);
  }

  /**
   * A page of tasks, newest first, with the total that match (client/list.ts: names first,
   * records for the page only; with a type or a single terminal state, records until the page is full).
   */
  async list(opts: ListOptions = {}): Promise<TaskPage> {
    return listTasks(this.session, this.paths, opts);
  }

  /** The leading master now (null while nobody leads). */
  async leader(): Promise<{ id: string; host: string; pid: number; epoch: number } | null> {
    const l = await readLeader(this.session, this.paths.election);
    return l ? { id: l.id, host: l.host, pid: l.pid, epoch: l.epoch } : null;
  }

  /** Leader, masters, workers (load, labels, types), queue depth, counts, and what queued tasks wait for (client/status.ts). */
  async status(): Promise<ClusterStatus> {
    return clusterStatus(this.session, this.paths);
  }

  /** Cron schedules: add, list, remove, pause, resume (client/schedules.ts). */
  get schedules(): ScheduleApi {
    return (this._schedules ??= new ScheduleApi(this.session, this.paths, this.limits));
  }
  private _schedules?: ScheduleApi;

  /** Rate limits and quotas per task type or label (client/limits.ts). */
  get rateLimits(): LimitApi {
    return (this._rateLimits ??= new LimitApi(this.session, this.paths));
  }
  private _rateLimits?: LimitApi;

  /** Pauses all task types, or one: the leader assigns nothing of it; running tasks finish (client/control.ts). */
  pause(opts: { type?: string | readonly string[] } = {}): Promise<controls.PausedScopes> {
    return controls.pause(this.session, this.paths, opts);
  }

  /** Resumes everything (no type), or one type (refused with a ControlError while all types are paused). */
  resume(opts: { type?: string | readonly string[] } = {}): Promise<controls.PausedScopes> {
    return controls.resume(this.session, this.paths, opts);
  }

  /** What is paused, since when, and which workers are asked to drain. */
  control(): Promise<controls.ControlState> {
    return controls.control(this.session, this.paths);
  }

  /** Asks a live worker to finish what it runs, take no more and leave (WorkerNotFoundError if none is alive). */
  drain(workerId: string): Promise<controls.DrainResult> {
    return controls.drain(this.session, this.paths, workerId);
  }

  /** Takes a pending drain request back (`removed` false: there was none); `draining`: members already leaving, which cannot be undone. */
  cancelDrain(workerId: string): Promise<{ removed: boolean; draining: string[] }> {
    return controls.cancelDrain(this.session, this.paths, workerId);
  }

  /**
   * Resolves once the given members of this worker id (default: those alive now) are gone, after
   * a drain say; ZooKeeper away for reconnectTimeoutMs rejects with ConnectionLossError.
   */
  waitWorkerGone(workerId: string, opts: Omit<controls.WaitGoneOptions, 'reconnectTimeoutMs'> = {}): Promise<void> {
    return controls.waitWorkerGone(this.session, this.paths, workerId, { ...opts, reconnectTimeoutMs: this.reconnectTimeoutMs });
  }
}

export { Paths };
