// The summary table a chaos run prints.
import type { ChaosReport } from './runner.js';
import { FAULT_KINDS } from './timeline.js';

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatSummary(r: ChaosReport): string {
  const lines: string[] = [];
  const row = (k: string, v: string | number) => lines.push(`  ${k.padEnd(28)} ${v}`);
  lines.push(`drover chaos — seed ${r.seed}, ${r.seconds} s of faults, run took ${s(r.durationMs)}`);
  lines.push('');
  const kinds = Object.entries(r.submissions.errorKinds ?? {}).map(([k, n]) => `${n} ${k}`).join(', ');
  row('tasks submitted', `${r.tasks} (${r.submissions.single} single + ${r.submissions.bulk} bulk calls)`);
  row('submit calls failed, retried', `${r.submissions.errorsRetried}${kinds ? ` (${kinds})` : ''}`);
  row('final states', Object.entries(r.byState).map(([k, v]) => `${k} ${v}`).join(', ') || '-');
  row('lost / not terminal', `${r.lost.length} / ${r.notTerminal.length}`);
  row('outcomes committed twice', r.committedTwice.length + r.doneEntries.length);
  row('wrong results', r.badResult.length + r.wrongOutcome.length);
  row('failed by an outage', r.outageFailed.length);
  row('traffic (succeeded/tasks)', Object.entries(r.byMix).map(([k, v]) => `${k} ${v.succeeded}/${v.tasks}`).join(', ') || '-');
  row('executions', r.executions);
  row('duplicate executions', `${r.duplicates} (unexplained ${r.unexplained.length})`);
  for (const [why, n] of Object.entries(r.duplicateReasons).sort((a, b) => b[1] - a[1])) row(`  ${why}`, n);
  const d = r.dag;
  const ended = Object.entries(d.ended).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
  row('dag tasks', `${d.tasks} in ${d.graphs} graphs: ${ended}; ${d.ranAfterFailedParent} ran after a failed parent`);
  row(
    'dag invariants',
    d.violations === 0
      ? 'held (none taken before its parents ended, none left waiting, none ran past a failed parent, none released twice)'
      : `${d.violations} VIOLATED: ${d.releasedEarly.length} taken early, ${d.wrongEnd.length} wrong end, ${d.ranDespiteFailedParent.length} ran past a failed parent, ${d.releasedTwice.length} released twice`,
  );
  const sc = r.schedules;
  row('schedule occurrences', sc.schedules.map((x) => `${x.name} ${x.succeeded}/${x.occurrences} (skipped ${x.skipped}, caught up ${x.caughtUp}, latest ${s(x.maxLateMs)})`).join(', ') || '-');
  row(
    'schedule invariants',
    sc.violations === 0
      ? 'held (every cron time from the first to the cursor, none skipped, none outside, none run twice)'
      : `${sc.violations} VIOLATED: ${sc.missing.length} missing, ${sc.extra.length} outside, ${sc.skipped.length} skipped, ${sc.notSucceeded.length} not succeeded, ${sc.ranTwice.length} twice, ${sc.problems.length} other`,
  );
  row('max running on one worker', `${r.capacity.maxSeen} (capacity ${r.capacity.limit})`);
  row('settled after faults in', s(r.settleMs));
  row('cluster at the end', r.end.ok ? `whole: ${r.end.leader} leads; probe tasks per worker ${Object.values(r.end.perWorker).join('/')}` : `NOT whole: ${r.end.problems.join('; ')}`);
  row(
    'longest stall',
    r.longestStall ? `${s(r.longestStall.ms)} — ${r.longestStall.cause}` : '-',
  );
  lines.push('');
  lines.push(`  ${'fault'.padEnd(22)} ${'count'.padStart(5)}  ${'longest stall'.padStart(13)}  notes`);
  for (const k of FAULT_KINDS) {
    const f = r.faults[k];
    const notes = [f.skipped ? `${f.skipped} skipped` : '', f.unverified ? `${f.unverified} UNVERIFIED` : ''].filter(Boolean).join(', ');
    lines.push(`  ${k.padEnd(22)} ${String(f.count).padStart(5)}  ${(f.maxStallMs ? s(f.maxStallMs) : '-').padStart(13)}  ${notes}`);
  }
  lines.push(`  ${'total'.padEnd(22)} ${String(r.faultsInjected).padStart(5)}`);
  lines.push('');
  if (r.failures.length) {
    lines.push('  FAIL:');
    for (const f of r.failures) lines.push(`    - ${f}`);
    const examples = [...r.lost, ...r.notTerminal, ...r.doneEntries, ...r.committedTwice, ...r.badResult, ...r.outageFailed, ...r.wrongOutcome, ...r.unexplained, ...r.capacity.violations, ...r.unexpectedExits,
      ...d.releasedEarly, ...d.wrongEnd, ...d.ranDespiteFailedParent, ...d.releasedTwice,
      ...sc.missing, ...sc.extra, ...sc.skipped, ...sc.notSucceeded, ...sc.ranTwice, ...sc.problems].slice(0, 12);
    for (const e of examples) lines.push(`      ${e}`);
  }
  lines.push(`  result: ${r.pass ? 'PASS' : 'FAIL'}   (logs: ${r.dir})`);
  return lines.join('\n');
}
