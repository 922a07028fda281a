// One attempt a worker holds: from the first sight of its assignment node to its commit,
// fence or give-up. The assignment node's path is the attempt's fence.
import type { Logger } from '../shared/log.js';
import type { VersionedRecord } from '../shared/protocol/task-ops.js';
import type { ZkSession } from '../shared/zk/session.js';
import { sleep } from '../shared/util/coalescer.js';
import { ProgressWriter } from './progress.js';

/** How long an assignment we could not carry through waits before we look at it again. */
export const RETRY_LEFT_MS = 5000;

export interface Attempt {
  /** Full path of the assignment node: the fence of this attempt. */
  key: string;
  member: string;
  taskId: string;
  attempt: number;
  /** Latest record (and its version) this worker wrote or read. */
  cur: VersionedRecord;
  controller: AbortController;
  log: Logger;
  finished: Promise<void>;
  resolveFinished: () => void;
  over: boolean;
  /** The handler is over and its outcome is being committed: a vanished node is our own commit's doing, or the commit learns otherwise. */
  settling: boolean;
  progress: ProgressWriter;
}

export function newAttempt(
  session: ZkSession,
  key: string,
  member: string,
  cur: VersionedRecord,
  parsed: { taskId: string; attempt: number },
  maxProgressBytes: number,
  log: Logger,
  /** The assignment node's data, if read with the burst (progress is written over it). */
  assignmentData?: Buffer,
): Attempt {
  let resolveFinished!: () => void;
  const finished = new Promise<void>((r) => (resolveFinished = r));
  return {
    key,
    member,
    taskId: parsed.taskId,
    attempt: parsed.attempt,
    cur,
    controller: new AbortController(),
    log,
    finished,
    resolveFinished,
    over: false,
    settling: false,
    progress: new ProgressWriter(session, key, maxProgressBytes, log, assignmentData),
  };
}

/** Resolves when any of `promises` settles or after `ms`; leaves no timer behind to hold the process. */
export async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  const timer = new AbortController();
  try {
    await Promise.race([...promises, sleep(ms, timer.signal)]);
  } finally {
    timer.abort();
  }
}
