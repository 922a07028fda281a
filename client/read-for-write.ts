// The read before a client's compare-and-set write (cancel.ts, retry.ts): the record at its version,
// riding out a lost connection (null: ZooKeeper was away; the caller waited for it and reads
// again, unsure whether its previous write went through). A missing or malformed record ends
// the write with its error.
import type { Paths } from '../shared/protocol/paths.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';
import { readTask } from '../shared/protocol/task-store.js';
import { ConnectionLossError, SessionExpiredError } from '../shared/zk/errors.js';
import type { ZkSession } from '../shared/zk/session.js';
import { TaskNotFoundError } from './wait-errors.js';

export async function readForWrite(session: ZkSession, paths: Paths, id: string): Promise<{ record: TaskRecord; version: number } | null> {
  const r = await readTask(session, paths, id).catch((err: unknown) => {
    if (err instanceof ConnectionLossError || err instanceof SessionExpiredError) return null;
    throw err;
  });
  if (r === null) {
    await session.waitConnected().catch(() => undefined);
    return null;
  }
  if (r.kind === 'missing') throw new TaskNotFoundError(id);
  if (r.kind === 'malformed') throw new Error(`task ${id} has a malformed record: ${r.reason}`);
  return { record: r.record, version: r.version };
}
