// The leader's log of workers joining and leaving: one info line each, with what the worker
// offers (capacity, labels, types) and, for a leave, how many tasks it held (`held`: they are
// being taken back). The members a new leader finds at takeover are not joins (its 'elected leader'
// line counts them): a failover must not log every worker again. State changes (alive,
// draining) are debug.
import type { Logger } from '../shared/log.js';
import type { MemberInfo, MembershipObserver } from '../shared/zk/membership.js';

type Offer = Pick<MemberInfo, 'capacity' | 'labels' | 'types' | 'state'>;

export class MemberLog {
  /** What each member offered, kept for its leave line (the view has dropped it by then). */
  private readonly offers = new Map<string, Offer>();
  /** The first whole view is in: joins from now on are new workers. */
  private viewed = false;

  constructor(
    observer: MembershipObserver,
    private readonly log: Logger,
    /** Tasks the leader's picture has the member holding. */
    private readonly held: (member: string) => number,
  ) {
    observer.on('join', (m) => {
      this.offers.set(m.name, offerOf(m));
      if (this.viewed) this.log.info({ member: m.name, ...offerOf(m) }, 'worker joined');
    });
    observer.on('update', (m) => {
      const was = this.offers.get(m.name);
      this.offers.set(m.name, offerOf(m));
      if (this.viewed && was?.state !== m.state) this.log.debug({ member: m.name, state: m.state, previous: was?.state }, 'worker state');
    });
    observer.on('leave', (name) => {
      const offer = this.offers.get(name);
      this.offers.delete(name);
      const held = this.held(name);
      this.log.info({ member: name, ...offer, held }, 'worker left');
    });
    observer.once('change', () => (this.viewed = true));
  }
}

function offerOf(m: MemberInfo): Offer {
  return { capacity: m.capacity, labels: m.labels, ...(m.types ? { types: m.types } : {}), state: m.state };
}
