// A worker's events, each listener on its own: a user's listener that throws (or whose promise
// rejects) is logged once, at error, and changes nothing else — the other listeners still hear
// it, and the attempt, its line and its metrics are done already.
import type { EventEmitter } from 'node:events';
import type { Logger } from '../shared/log.js';

export function emitEach(emitter: EventEmitter, log: Logger, event: string, args: readonly unknown[]): void {
  for (const listener of emitter.rawListeners(event) as ((...a: unknown[]) => unknown)[]) {
    const said = (err: unknown) => {
      const e = err as Error;
      log.error({ event, err: e?.message ?? String(err), ...(e?.stack ? { stack: e.stack } : {}) }, `a '${event}' listener threw; ignored`);
    };
    try {
      const r = listener.apply(emitter, args as unknown[]);
      // An async listener's rejection too: unhandled, it would end the process.
      if (r && typeof (r as PromiseLike<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, said);
    } catch (err) {
      said(err);
    }
  }
}
