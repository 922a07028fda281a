// Helpers of the tree-watch tests: a recorder of a watchTree's events and resets, and a tap
// on the raw notifications a session's current connection receives.
import type { TreeEvent, TreeWatch, ZkSession } from '../../shared/zk/session.js';
import type { RawClient } from '../../shared/zk/raw-client.js';

export type Recorder = ReturnType<typeof recorder>;

export function recorder() {
  const events: TreeEvent[] = [];
  let resets = 0;
  return {
    events,
    get resets() {
      return resets;
    },
    onEvent: (e: TreeEvent) => events.push(e),
    onReset: () => (resets += 1),
  };
}

/** Opens a watchTree with a recorder; its close goes to `cleanups`. */
export async function watch(cleanups: Array<() => Promise<void>>, s: ZkSession, root: string, r = recorder()): Promise<{ r: Recorder; w: TreeWatch }> {
  const w = await s.watchTree(root, r.onEvent, r.onReset);
  cleanups.push(() => w.close());
  return { r, w };
}

/** Every notification the server sends this session's current connection (raw, before routing). */
export function wireEvents(s: ZkSession): Array<{ type: number; path: string }> {
  const seen: Array<{ type: number; path: string }> = [];
  const wm = (s as unknown as { client: RawClient }).client.connectionManager.watcherManager as unknown as {
    emit: (e: { type: number; path: string }) => void;
  };
  const emit = wm.emit;
  wm.emit = function (this: unknown, e) {
    seen.push({ type: e.type, path: e.path });
    return emit.call(this, e);
  };
  return seen;
}
