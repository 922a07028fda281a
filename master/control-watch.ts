// The leader's view of cluster control (shared/protocol/control.ts, limits.ts): what is paused,
// who is asked to drain, and the limits per type or label. One persistent recursive watch on <root>/control (it may not exist yet: the
// watch fires when it is made), and on any event under it, or a reset after a (re)connect, one
// re-read (control/paused's and control/limits' data, control/drain's listing and a multiRead of
// its requests),
// coalesced. Nothing per task: requests per control change, not per round.
//
// `current` is false from a connection's loss until the re-read after it: the leader places
// nothing meanwhile (a pause written during the cut must hold from its next round), and a new
// leader reads it before its first round (Leadership.start).
import type { Logger } from '../shared/log.js';
import { NOTHING_PAUSED, readControl, type PausedScopes } from '../shared/protocol/control.js';
import { readLimits, type Limit } from '../shared/protocol/limits.js';
import { Paths } from '../shared/protocol/paths.js';
import { Coalescer } from '../shared/util/coalescer.js';
import type { TreeWatch, ZkSession } from '../shared/zk/session.js';
import { NoAuthBackoff } from '../shared/zk/auth-backoff.js';
import { SessionClosedError, SessionExpiredError } from '../shared/zk/errors.js';

export class ControlWatch {
  paused: PausedScopes = NOTHING_PAUSED;
  /** control/limits as last read. */
  limits: readonly Limit[] = [];
  /** Worker ids with a drain request. */
  readonly drains = new Set<string>();
  /** Re-reads done (tests). */
  reads = 0;
  private _current = false;
  private stopped = false;
  private watch?: TreeWatch;
  private readonly coalescer: Coalescer;
  /** A read refused (NO_AUTH) is tried again 1 s doubling to 60 s, not every 250 ms. */
  private readonly backoff: NoAuthBackoff;
  /** Bumped at every loss of the connection: a read begun before one does not make the view current. */
  private cuts = 0;
  private readonly onState = (s: string) => {
    if (s === 'connected') return;
    this.cuts++;
    this._current = false;
  };

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    private readonly log: Logger,
    /** Called after every re-read that applied. */
    private readonly onChange: () => void,
  ) {
    this.backoff = new NoAuthBackoff(log);
    this.coalescer = new Coalescer(
      () => this.read(),
      (err) => this.onError(err),
    );
  }

  /** Read since the connection last came back: rounds may go by it. */
  get current(): boolean {
    return this._current;
  }

  /** Whether a member (workerId~incarnation) is asked to drain. */
  draining(member: string): boolean {
    if (this.drains.size === 0) return false;
    const m = Paths.parseMember(member);
    return m !== null && this.drains.has(m.workerId);
  }

  /** Arms the watch and reads once (a failed read leaves `current` false and is tried again). */
  async start(): Promise<void> {
    this.session.on('state', this.onState);
    const w = await this.session.watchTree(
      this.paths.control,
      () => this.coalescer.kick(),
      () => this.coalescer.kick(),
    );
    // stop() came while the watch was being added: it saw none to close.
    if (this.stopped) return void (await w.close().catch(() => undefined));
    this.watch = w;
    this.coalescer.kick();
    await this.coalescer.settled();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.session.off('state', this.onState);
    await this.watch?.close().catch(() => undefined);
    await this.coalescer.settled();
  }

  private async read(): Promise<void> {
    if (this.stopped) return;
    const cuts = this.cuts;
    const connected = this.session.state === 'connected';
    const [c, l] = await Promise.all([readControl(this.session, this.paths), readLimits(this.session, this.paths)]);
    if (this.stopped) return;
    this.backoff.succeeded();
    this.reads++;
    const before = JSON.stringify([this.paused, [...this.drains], this.limits]);
    this.paused = c.paused;
    this.limits = l.limits;
    this.drains.clear();
    for (const d of c.drains) this.drains.add(d.workerId);
    // Current only if no cut came between the read's start and now (its reset re-reads).
    if (connected && cuts === this.cuts) this._current = true;
    if (JSON.stringify([this.paused, [...this.drains], this.limits]) !== before) {
      this.log.info({ pausedAll: this.paused.all !== null, pausedTypes: this.paused.types.length, draining: this.drains.size, limits: this.limits.length }, 'cluster control changed');
    }
    this.onChange();
  }

  private onError(err: unknown): void {
    if (this.stopped || err instanceof SessionExpiredError || err instanceof SessionClosedError) return;
    // A refusal (NO_AUTH) is logged by the backoff, once per distinct message.
    if (!NoAuthBackoff.is(err)) this.log.warn({ err: (err as Error).message }, 'cannot read cluster control; retrying');
    this.backoff.schedule(err, 250, () => this.coalescer.kick());
  }
}
