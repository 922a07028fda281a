// A fixed number of lanes working through a list: bounds the requests in flight (each reply
// of a multiRead can be ~450 KiB and the server answers a session's requests in order, so a
// deeper pipeline only queues replies behind each other until the last waits out its
// deadline). Used by the leader's held reads and the worker's burst and verify reads.

/** Replies of up to ~450 KiB in flight at once. */
export const IN_FLIGHT = 4;
/** Small lone reads (one record of unknown size, usually small) in flight at once. */
export const LONE_IN_FLIGHT = 16;

/**
 * Runs `fn` on every item, at most `lanes` at a time. A rejection of `fn` rejects the pool
 * once the lanes already running have ended (none is left unobserved); the items not yet
 * begun are then not begun. A caller that settles each item on its own catches in `fn`.
 */
export async function pooled<T>(items: readonly T[], fn: (t: T) => Promise<void>, lanes = IN_FLIGHT): Promise<void> {
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(lanes, items.length) }, lane));
  const bad = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (bad) throw bad.reason;
}
