import type { Argv } from 'yargs';
import { globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { ClusterStatus } from '../../client/drover-client.js';

export const command = 'status';
export const describe = 'show the leader, masters, workers (state, load), queue depth and counts';

export function builder(y: Argv): Argv<GlobalArgs> {
  return globalOptions(y);
}

export async function handler(argv: GlobalArgs): Promise<ExitCode> {
  const [{ limitLine }, { LEADER_STATUS_MAX_LIMITS }] = await Promise.all([import('../../client/status-limits.js'), import('../../master/leader-status.js')]);
  return withClient(argv, async (client) => {
    const s = await client.status();
    if (argv.json) {
      printJson(s);
      return EXIT.ok;
    }
    const out: string[] = [];
    out.push(`root:        ${s.root}`);
    out.push(`leader:      ${s.leader ? `${s.leader.id} (epoch ${s.leader.epoch}, ${s.leader.host} pid ${s.leader.pid})` : 'none'}`);
    out.push(`masters:     ${s.masters.map((m) => (m.leader ? `${m.id}*` : m.id)).join(', ') || 'none'}`);
    out.push(`workers:     ${s.workers.length}`);
    for (const w of s.workers) {
      const labels = Object.entries(w.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '-';
      // A worker older than the types field advertises none: it may run any type.
      const types = w.types ? w.types.join(',') || '-' : 'any (not advertised)';
      out.push(`  ${w.id}\t${w.state}\tload ${w.load}/${w.capacity}\tlabels ${labels}\ttypes ${types}\t${w.host} pid ${w.pid}\t${w.name}`);
    }
    out.push(...controlLines(s));
    if (s.limits.length > 0) out.push(`limits:      ${s.limits.length}`, ...s.limits.slice(0, LEADER_STATUS_MAX_LIMITS).map((l) => `  ${limitLine(l)}`));
    // The leader publishes counts for that many: `drover limit list` shows every limit's settings.
    if (s.limits.length > LEADER_STATUS_MAX_LIMITS) out.push(`  … and ${n(s.limits.length - LEADER_STATUS_MAX_LIMITS)} more (drover limit list shows them all)`);
    out.push(`queued:      ${s.queue.depth}`);
    if (s.dependencyWaiting > 0) out.push(`waiting on dependencies: ${n(s.dependencyWaiting)}`);
    out.push(...waitingLines(s.waiting, s.waitingSample));
    out.push(`in progress: ${s.inProgress}`);
    out.push(`finished:    ${finishedLine(s)}`);
    process.stdout.write(out.join('\n') + '\n');
    // Said on stderr too, so that it is seen when stdout goes to a file or a pipe.
    // Paused ones wait as an operator asked: no warning for them.
    const stuckClasses = s.waiting.filter((w) => w.reason !== PAUSED);
    const stuck = stuckClasses.reduce((t, w) => t + w.count, 0) + (s.waitingSample.omitted?.tasks ?? 0);
    if (stuck > 0) process.stderr.write(`drover: warning: ${n(stuck)} queued tasks no live worker can take (${stuckClasses.map((w) => `${w.type}: ${w.reason}`).slice(0, 3).join('; ')}${stuckClasses.length > 3 ? '; …' : ''})\n`);
    return EXIT.ok;
  }, { readOnly: true });
}

const n = (x: number) => x.toLocaleString('en-US');
/** The reason the leader gives queued tasks of a paused type (master/queue-index.ts). */
const PAUSED = 'paused';
const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : '?');

/** What is paused (since when) and which workers drain; nothing when neither. */
function controlLines(s: ClusterStatus): string[] {
  const out: string[] = [];
  const scopes = [...(s.paused.all ? [`all types (since ${iso(s.paused.all.since)})`] : []), ...s.paused.types.map((t) => `${t.type} (since ${iso(t.since)})`)];
  if (scopes.length > 0) out.push(`paused:      ${scopes.join(', ')}`);
  if (s.draining.length > 0) out.push(`draining:    ${s.draining.length}`);
  for (const d of s.draining) {
    const asked = d.requestedAt === null ? 'not requested (stopping)' : `requested ${iso(d.requestedAt)}`;
    // A request no live worker holds (one killed -9 before it left): its next start drains at once.
    const members = d.members.map((m) => `${m.name} ${m.state}`).join(', ') || `pending (no live worker; its next start leaves at once; \`drover drain --cancel ${d.workerId}\` takes it back)`;
    out.push(`  ${d.workerId}\t${asked}\t${members}`);
  }
  return out;
}

/** Finished tasks split by outcome; an estimate says what it rests on. */
function finishedLine(s: ClusterStatus): string {
  const f = s.finishedBy;
  const split = `${n(f.succeeded)} succeeded, ${n(f.failed)} failed, ${n(f.cancelled)} cancelled`;
  const how = f.sample.read < f.sample.of ? `; split estimated from ${n(f.sample.read)} of ${n(f.sample.of)} records` : '';
  return `${n(s.finished)} (${split}${how}; kept until the retention)`;
}

/** What the queue waits for, and on how much of it that rests: never silent about a sample that missed things. */
function waitingLines(waiting: ClusterStatus['waiting'], sample: ClusterStatus['waitingSample']): string[] {
  const partial = sample.read < sample.of;
  const leader = sample.source === 'leader';
  const basis = `${n(sample.read)} of ${n(sample.of)} queued`;
  if (waiting.length === 0) {
    if (!partial) return [];
    return [leader ? `waiting:     none found (the leader has read ${basis})` : `waiting:     none found in a sample of ${basis}`];
  }
  const omitted = sample.omitted ?? { classes: 0, tasks: 0 };
  const total = waiting.reduce((t, w) => t + w.count, 0) + omitted.tasks;
  const how = !partial ? '' : leader ? ` (the leader has read ${basis})` : ` (estimated from ${basis})`;
  const what = waiting.some((w) => w.reason === PAUSED) ? 'queued tasks waiting (paused, or no live worker can take them)' : 'queued tasks no live worker can take';
  const out = [`waiting:     ${n(total)} ${what}${how}`];
  for (const w of waiting) {
    const labels = Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';
    out.push(`  ${w.type}\tlabels ${labels}\t${w.count}\t${w.reason}`);
  }
  if (omitted.classes > 0) out.push(`  … and ${n(omitted.classes)} more classes (${n(omitted.tasks)} tasks)`);
  return out;
}
