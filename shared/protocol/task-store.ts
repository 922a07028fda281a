// Reads of task records. Writes go through task-ops (one multi each).
import { NoNodeError } from '../zk/errors.js';
import type { ZkSession } from '../zk/session.js';
import type { Paths } from './paths.js';
import { MalformedRecordError, decodeRecord, type TaskRecord } from './task-record.js';

export type ReadResult =
  | { kind: 'ok'; record: TaskRecord; version: number }
  | { kind: 'malformed'; reason: string; version: number }
  | { kind: 'missing' };

/** Reads tasks/<shard>/<id>; a record that does not parse comes back as `malformed` with why. */
export async function readTask(session: ZkSession, paths: Paths, id: string, retry = true): Promise<ReadResult> {
  try {
    const get = () => session.getData(paths.task(id));
    const { data, stat } = retry ? await session.retrying(get) : await get();
    try {
      return { kind: 'ok', record: decodeRecord(data, id), version: stat.version };
    } catch (err) {
      if (err instanceof MalformedRecordError) return { kind: 'malformed', reason: err.message, version: stat.version };
      throw err;
    }
  } catch (err) {
    if (err instanceof NoNodeError) return { kind: 'missing' };
    throw err;
  }
}
