// A worker's ear for `drover drain <its id>`: a persistent recursive watch on its own
// control/drain/<workerId> (which need not exist: the watch fires on its creation) and one
// exists() at start and after every (re)connect (events in a cut are lost). A request found at
// start counts: the worker was asked to leave, so it drains at once. As the worker leaves (its
// attempts over, its member node not yet deleted) it removes any request for its id
// (removeRequest(): a leaving process has fulfilled it, seen or not), so a later start of the
// same id runs normally; unless another member of the id is alive (that one removes it).
//
// Requests: 1 addWatch and 1 exists at start and per reconnect (the watch's first reset is
// skipped: start() looks itself, awaited); 1 exists as it leaves (+ 1 getChildren of workers/
// and 1 delete when there is a request); none per task.
import type { Logger } from '../shared/log.js';
import { removeDrain } from '../shared/protocol/control.js';
import { Paths } from '../shared/protocol/paths.js';
import { SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';
import type { TreeWatch, ZkSession } from '../shared/zk/session.js';

export class DrainWatch {
  private watch?: TreeWatch;
  private _requested = false;
  private closed = false;
  private readonly path: string;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly workerId: string,
    private readonly log: Logger,
    /** Called once, when a request is seen. */
    private readonly onDrain: () => void,
  ) {
    this.path = paths.drainRequest(workerId);
  }

  /** A request has been seen. */
  get requested(): boolean {
    return this._requested;
  }

  async start(): Promise<void> {
    this.watch = await this.session.watchTree(
      this.path,
      (e) => {
        if (e.path === this.path && e.type === 'created') this.fire();
      },
      // The first reset runs inside watchTree (this.watch unset yet): start() looks just below.
      () => this.watch && void this.check(),
    );
    await this.check();
  }

  /** Stops listening (the request, if any, stays until removeRequest()). */
  async finish(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.watch?.close().catch(() => undefined);
  }

  /**
   * Removes a drain request for this id, seen or not: called as the worker leaves, its attempts
   * over, its member node (`own`) still there. Kept while another member of the id lives (a
   * second process of it, which may have missed the request's creation: it removes it when it
   * leaves). Retried across a connection loss; none is fine.
   */
  async removeRequest(own: string | null): Promise<void> {
    try {
      if (!(await this.session.retrying(() => this.session.exists(this.path)))) return;
      const { children } = await this.session.retrying(() => this.session.getChildren(this.paths.workers));
      const other = children.find((n) => n !== own && Paths.parseMember(n)?.workerId === this.workerId);
      if (other) {
        this.log.info({ request: this.path, member: other }, 'drain request kept: another member of this id is alive');
        return;
      }
      await this.session.retrying(() => removeDrain(this.session, this.paths, this.workerId));
    } catch (err) {
      if (err instanceof SessionClosedError) return; // a borrowed session closed by its owner first
      this.log.warn({ err: (err as Error).message }, 'cannot remove the drain request (`drover drain --cancel` removes it)');
    }
  }

  private async check(): Promise<void> {
    if (this.closed || this._requested) return;
    try {
      if (await this.session.retrying(() => this.session.exists(this.path))) this.fire();
    } catch (err) {
      if (err instanceof SessionExpiredError || err instanceof SessionClosedError) return;
      // The next reset (after the reconnect that must come) looks again.
      this.log.warn({ err: (err as Error).message }, 'cannot look for a drain request');
    }
  }

  private fire(): void {
    if (this.closed || this._requested) return;
    this._requested = true;
    this.log.info({ request: this.path }, 'drain requested');
    this.onDrain();
  }
}
