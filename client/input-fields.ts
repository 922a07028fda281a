// The fields a submission may hold: ONE list, for the library's run-time check (client/submit.ts)
// and the CLI's --file lines (cli/task-input.ts). tsc checks it covers SubmitInput and Backoff
// exactly (`satisfies`), so a field added there must be added here. (Kept in client/: the
// protocol's task-record.ts is another owner's; it could move there beside SubmitInput.)
import { TaskValidationError, type Backoff, type SubmitInput } from '../shared/protocol/task-record.js';

const INPUT = { type: 1, payload: 1, id: 1, priority: 1, maxAttempts: 1, maxLost: 1, backoff: 1, timeoutMs: 1, labels: 1, delayMs: 1, runAt: 1, dependsOn: 1, onParentFailure: 1 } as const satisfies Record<keyof SubmitInput, 1>;
const BACKOFF = { initialMs: 1, factor: 1, maxMs: 1 } as const satisfies Record<keyof Backoff, 1>;

export const INPUT_FIELDS: readonly string[] = Object.keys(INPUT);
const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** A submission's fields no task has (`backoff.x` inside backoff): a typo such as "priorty" would otherwise be dropped silently. */
export function unknownFields(v: object): string[] {
  const bad = Object.keys(v).filter((k) => !has(INPUT, k));
  const b = (v as { backoff?: unknown }).backoff;
  if (b !== null && typeof b === 'object' && !Array.isArray(b)) bad.push(...Object.keys(b).filter((k) => !has(BACKOFF, k)).map((k) => `backoff.${k}`));
  return bad;
}

/** Refuses a submission with a field no task has: a TaskValidationError naming it (`where` first). */
export function checkKnownFields(v: object, where = ''): void {
  const bad = unknownFields(v);
  if (bad.length === 0) return;
  throw new TaskValidationError(bad[0]!, `${where}unknown field${bad.length > 1 ? 's' : ''} ${bad.map((k) => JSON.stringify(k)).join(', ')} (a task has ${INPUT_FIELDS.join(', ')})`);
}
