// The size caps of a task record and of the requests that carry it: jute.maxbuffer (1 MiB)
// bounds every request, so a record's payload, result and other fields are bounded together.
import { TaskValidationError } from './record-errors.js';

export interface SizeLimits {
  maxPayloadBytes: number;
  maxResultBytes: number;
}

/** Well below jute.maxbuffer (1 MiB): a record, and a batch of them, must fit in one request. */
export const HARD_SIZE_CAP = 512 * 1024;
/** ZooKeeper's default jute.maxbuffer: the server drops a connection whose request is longer. */
export const ZK_MAX_REQUEST_BYTES = 0xfffff;
/** Largest multi we send: jute.maxbuffer less room for a chroot in front of every path. */
export const MAX_REQUEST_BYTES = ZK_MAX_REQUEST_BYTES - 4096;
/**
 * What a finish multi holds besides the payload and the result: the record's other fields
 * (ids, type, labels ≤ 8 KiB, times, the attempt history ≤ MAX_HISTORY_BYTES = 40 KiB) and
 * its other operations' paths: 64 KiB (48 before the history). A failure's error (4 096 +
 * 2 048 characters, JSON-escaped ≤ 36 KiB) takes the place of the result, which a failed
 * record does not hold, and its payload is at most HARD_SIZE_CAP: it always fits.
 */
export const RECORD_ROOM_BYTES = 64 * 1024;
/** Labels are record fields: bounded so that RECORD_ROOM_BYTES holds. */
export const MAX_LABELS_BYTES = 8 * 1024;
export const DEFAULT_LIMITS: SizeLimits = { maxPayloadBytes: 64 * 1024, maxResultBytes: 64 * 1024 };
/**
 * Checks each cap and the two together: a record holds its payload and its result at once,
 * and the finish that writes it must fit in one ZooKeeper request.
 */
export function checkLimits(limits: Partial<SizeLimits> = {}): SizeLimits {
  const out = { ...DEFAULT_LIMITS, ...limits };
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v < 1 || v > HARD_SIZE_CAP) {
      throw new TaskValidationError(k, `${k} must be an integer in 1..${HARD_SIZE_CAP}, got ${JSON.stringify(v)}`);
    }
  }
  const total = out.maxPayloadBytes + out.maxResultBytes + RECORD_ROOM_BYTES;
  if (total > MAX_REQUEST_BYTES) {
    throw new TaskValidationError(
      'maxPayloadBytes+maxResultBytes',
      `maxPayloadBytes (${out.maxPayloadBytes}) + maxResultBytes (${out.maxResultBytes}) + ${RECORD_ROOM_BYTES} bytes for the record's other fields ` +
        `is ${total} bytes: a task record holding both cannot be written in one ZooKeeper request (${MAX_REQUEST_BYTES} bytes: jute.maxbuffer less 4 KiB for a chroot); ` +
        `keep the two under ${MAX_REQUEST_BYTES - RECORD_ROOM_BYTES} bytes together`,
    );
  }
  return out;
}
