// A drover worker's registration: a member of workers/ (the Membership recipe) whose data says
// what it can take (capacity, labels, types, state), and its assignment directory, which is
// the task protocol's business: made right after the member node (so a directory whose member
// node is gone belongs to a dead incarnation: the leader reclaims it then, and assigns to a
// member only once it has seen its directory), and made again if it vanishes while we live.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Logger } from '../shared/log.js';
import { silentLogger } from '../shared/log.js';
import { layoutGone } from '../shared/protocol/layout-gone.js';
import { Paths } from '../shared/protocol/paths.js';
import { restoreAssignDir } from '../shared/protocol/transitions.js';
import { NodeExistsError } from '../shared/zk/errors.js';
import { Membership, type MemberInfo, type MemberState } from '../shared/zk/membership.js';
import type { ZkSession } from '../shared/zk/session.js';

export interface RegistrationEvents {
  /** Registered under a (new) member name: the previous one, if any, is gone with its session. */
  incarnation: [memberName: string, previous: string | null];
  state: [state: MemberState];
  /** Re-registering after an expiry met the root being destroyed or gone (layout-gone.ts): its one line. */
  gone: [err: Error];
}

export interface RegistrationInfo {
  id: string;
  capacity: number;
  labels?: Record<string, string>;
  /** Task types handled (advertised sorted); omit for "any". */
  types?: string[];
}

export class WorkerRegistration extends EventEmitter<RegistrationEvents> {
  private readonly log: Logger;
  private info: Omit<MemberInfo, 'incarnation' | 'since'>;
  private since = Date.now();
  private readonly membership: Membership;

  constructor(
    private readonly session: ZkSession,
    private readonly paths: Paths,
    opts: RegistrationInfo,
    log: Logger = silentLogger,
  ) {
    super();
    this.info = {
      id: opts.id,
      host: hostname(),
      pid: process.pid,
      capacity: opts.capacity,
      labels: opts.labels ?? {},
      ...(opts.types ? { types: [...opts.types].sort() } : {}),
      state: 'init',
    };
    this.log = log.child({ component: 'registration', workerId: opts.id });
    this.membership = new Membership(session, paths.workers, (sid) => Paths.memberName(opts.id, sid), () => this.data(), {
      log: log.child({ workerId: opts.id }),
      setup: (name) => this.createAssignDir(name),
      // workers/ goes in destroy's first multi: NO_NODE there is the root being destroyed, or
      // gone, unless its layout is still there (then retry as before).
      whenDirGone: () => layoutGone(session, paths.root || '/'),
    });
    this.membership.on('registered', (name, previous) => this.emit('incarnation', name, previous));
    this.membership.on('gone', (err) => this.emit('gone', err));
  }

  get memberName(): string | null {
    return this.membership.name;
  }
  get state(): MemberState {
    return this.info.state;
  }

  private data(): Buffer {
    const full: MemberInfo = { ...this.info, incarnation: this.session.sessionId, since: this.since };
    return Buffer.from(JSON.stringify(full));
  }

  /** Creates the member node, then the assignment directory, for the current session. */
  register(): Promise<string> {
    this.since = Date.now();
    return this.membership.register();
  }

  async setState(state: MemberState): Promise<void> {
    this.info = { ...this.info, state };
    this.emit('state', state);
    await this.membership.update();
  }

  // Member node first: a leader takes a directory without a member node for a dead
  // incarnation's and deletes it; the other order let it delete ours between the two creates.
  private async createAssignDir(name: string): Promise<void> {
    await this.session.retrying(() =>
      this.session.create(this.paths.assignDir(name)).catch((err) => {
        if (!(err instanceof NodeExistsError)) throw err;
        return '';
      }),
    );
  }

  /**
   * Re-creates this incarnation's assignment directory if it is gone (removed by hand, say),
   * in one multi with a check of the member node, so it is only ever made for a member that
   * lives. Returns false when the member node is gone (the expiry path re-registers).
   */
  async restoreAssignDir(): Promise<boolean> {
    const name = this.membership.name;
    if (!name || this.membership.isClosed) return false;
    const v = await restoreAssignDir({ session: this.session, paths: this.paths }, name);
    if (v.kind === 'committed') this.log.warn({ member: name }, 'assignment directory was missing; re-created it');
    if (v.kind === 'unknown' || (v.kind === 'moved' && v.code !== 'NODE_EXISTS')) throw v.error;
    // moved: it is there already; fenced: our member node is gone.
    return v.kind !== 'fenced';
  }

  /** Deletes the member node (the leader takes back whatever is still assigned). */
  async close(): Promise<void> {
    this.info = { ...this.info, state: 'gone' };
    await this.membership.close();
  }
}
