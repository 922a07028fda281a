// DroverClient.cancel(): the cancel transition (shared/protocol/client-transitions.ts) by task
// id, re-read and tried again while the task moves or the connection is being re-established.
import { cutMessage } from '../shared/protocol/messages.js';
import type { Tx } from '../shared/protocol/multi.js';
import { cancel } from '../shared/protocol/transitions.js';
import { isTerminal, type TaskState } from '../shared/protocol/task-state.js';
import { readForWrite } from './read-for-write.js';

/** `cancelled`: whether this call cancelled it (a task already finished keeps its outcome). */
export async function cancelById(tx: Tx, id: string, reason: string): Promise<{ cancelled: boolean; state: TaskState }> {
  // One timestamp for every try: a try whose reply was lost is recognised by it, and by
  // the reason as the record keeps it (cut like any message in a record).
  const now = Date.now();
  reason = cutMessage(String(reason));
  let unsure = false;
  for (let tries = 0; tries < 10; tries++) {
    const r = await readForWrite(tx.session, tx.paths, id);
    if (r === null) {
      unsure = true;
      continue;
    }
    if (isTerminal(r.record.state)) {
      const ours = unsure && r.record.state === 'cancelled' && r.record.finishedAt === now && r.record.error?.message === reason;
      return { cancelled: ours, state: r.record.state };
    }
    const v = await cancel(tx, { record: r.record, version: r.version }, reason, now);
    if (v.kind === 'committed') return { cancelled: true, state: 'cancelled' };
    // moved: the task moved (assigned, finished) between read and write: look again.
    if (v.kind === 'unknown') {
      // The connection or the session is being re-established: the multi may have gone
      // through; look again once connected (a cancel holds nothing in the session).
      unsure = true;
      await tx.session.waitConnected().catch(() => undefined);
    } else if (v.kind === 'fenced') throw v.error;
  }
  throw new Error(`task ${id} kept changing; cancel gave up after 10 tries`);
}
