// One-line renderings of task events (drover watch) and of attempt history entries (drover
// get), for people: a value shown (progress, result) is JSON, cut to keep the line a line.
import type { TaskView } from '../client/drover-client.js';
import type { TaskEvent } from '../client/task-feed.js';
import type { AttemptEntry, TaskError, TaskRecord } from '../shared/protocol/task-record.js';
import { formatDuration } from './common.js';

const MAX_VALUE_CHARS = 200;

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

/** A message on one line: newlines (a stack pasted into a message, say) become spaces. */
function oneLine(m: string): string {
  return m.replace(/\s*[\r\n]+\s*/g, ' ');
}

export function errorText(e: TaskError | undefined): string {
  return e ? `[${e.kind}] ${oneLine(e.message)}` : '';
}

/** HH:MM:SS.mmm, local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** `12:00:01.234 t1 echo started attempt 1 on w1~x`: one event. */
export function eventLine(e: TaskEvent): string {
  const head = `${clock(e.at)} ${e.id} ${e.type}`;
  const on = e.worker ? ` on ${e.worker}` : '';
  const rec = e.record;
  switch (e.kind) {
    case 'waiting':
      return `${head} waiting for ${rec?.dependsOn?.count ?? '?'} parent${rec?.dependsOn?.count === 1 ? '' : 's'}`;
    case 'queued':
      return `${head} queued${rec?.runAt !== undefined && rec.notBefore === rec.runAt ? `, runs at ${clock(rec.runAt)}` : ''}`;
    case 'assigned':
      return `${head} assigned attempt ${e.attempt} to ${e.worker ?? '-'}`;
    case 'started':
      return `${head} started attempt ${e.attempt}${on}`;
    case 'progress':
      return `${head} progress ${shown(e.progress)}`;
    case 'retried':
    case 'lost':
      return `${head} ${e.kind} attempt ${e.attempt}${on}: ${errorText(rec?.history?.at(-1)?.error ?? rec?.error)}`;
    case 'finished':
      return e.state === 'succeeded' ? `${head} succeeded attempt ${e.attempt}${on}: ${shown(rec?.result)}` : `${head} ${e.state} attempt ${e.attempt}${on}: ${errorText(rec?.error)}`;
  }
}

/** The event for --json: what the line says, without the record (its payload may be large). */
export function eventJson(e: TaskEvent): Record<string, unknown> {
  const { record, ...rest } = e;
  const out: Record<string, unknown> = { ...rest };
  if (e.kind === 'finished' && e.state === 'succeeded') out.result = record?.result;
  else if (e.kind === 'finished' || e.kind === 'retried' || e.kind === 'lost') {
    const err = e.kind === 'finished' ? record?.error : (record?.history?.at(-1)?.error ?? record?.error);
    if (err) out.error = err;
  }
  return out;
}

/** `#2  w1~x  2024-…Z → 2024-…Z  1s200ms  failed  [handler] boom`: one attempt of `drover get`. */
export function attemptLine(a: AttemptEntry): string {
  const start = a.startedAt ?? a.assignedAt;
  const when = start !== undefined ? `${new Date(start).toISOString()} → ${new Date(a.endedAt).toISOString()}  ${formatDuration(a.endedAt - start)}` : `ended ${new Date(a.endedAt).toISOString()}`;
  const why = a.error ? `  ${errorText(a.error)}` : '';
  return `#${a.attempt}  ${a.worker ?? '-'}  ${when}  ${a.outcome}${why}`;
}

/**
 * When a task is held back, for `drover get`: `['runs at:', '2030-…Z (in 1m30s)']` for a delayed
 * queued task, `not before:` for a retry in its backoff, `delayed to:` for a delayed task that
 * has started; undefined for none. By this process's clock (the leader's decides).
 */
export function heldLine(t: Pick<TaskRecord, 'state' | 'notBefore' | 'runAt'>, now = Date.now()): [string, string] | undefined {
  const at = (ms: number) => `${new Date(ms).toISOString()}${ms > now ? ` (in ${formatDuration(ms - now)})` : ' (due)'}`;
  if (t.state === 'queued' && t.notBefore !== undefined) return [t.notBefore === t.runAt ? 'runs at:' : 'not before:', at(t.notBefore)];
  if (t.runAt !== undefined) return ['delayed to:', new Date(t.runAt).toISOString()];
  return undefined;
}

/** `get`'s lines of a task's dependencies: `parents:` (id state, …) and `children:` (ids), the first 100 of each. */
export function dagLines(t: Pick<TaskView, 'parents' | 'children'>): string[] {
  const out: string[] = [];
  const more = (count: number, shown: number, complete = true) => (count > shown || !complete ? ` … (${count}${complete ? '' : '+'} in all)` : '');
  if (t.parents) {
    const p = t.parents;
    const run = p.onParentFailure === 'run' ? ', runs even if one fails' : '';
    out.push(`parents:   ${p.count}${run}: ${p.shown.map((x) => `${x.id} ${x.state ?? 'gone'}`).join(', ')}${more(p.count, p.shown.length)}`);
  }
  if (t.children) {
    const c = t.children;
    out.push(`children:  ${c.count}${c.complete ? '' : '+'}: ${c.shown.join(', ')}${more(c.count, c.shown.length, c.complete)}`);
  }
  return out;
}
