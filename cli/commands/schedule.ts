// drover schedule add|list|remove|pause|resume: cron schedules (client/schedules.ts). The leader
// submits each occurrence once, as task sched.<name>.<ms>. yargs runs only a subcommand's handler
// (main.ts never sees its return value): a normal return is 0, a UsageError 2 (a bad cron
// expression or zone, checked before connecting), any other error 1, ZooKeeper unreachable 3.
import type { Argv } from 'yargs';
import type { ScheduleInfo } from '../../client/schedules.js';
import { cronOf, newSchedule, ScheduleNotFoundError, type ScheduleSpec } from '../../shared/protocol/schedule.js';
import { globalOptions, parseLabels, printJson, UsageError, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { readPayload } from '../task-input.js';

export const command = 'schedule <command>';
export const describe = 'cron schedules: add, list, remove, pause, resume';

interface NameArgs extends GlobalArgs {
  name: string;
}

interface AddArgs extends NameArgs {
  cron: string;
  tz?: string;
  type: string;
  payload?: string;
  misfire: 'skip' | 'catch-up';
  catchUpMax?: number;
  priority?: number;
  maxAttempts?: number;
  labels?: string;
  paused: boolean;
  replace: boolean;
}

const nameArg = (s: Argv) => s.positional('name', { type: 'string', describe: 'schedule name: 1-100 of A-Z a-z 0-9 _ . -', demandOption: true });

export function builder(y: Argv): Argv {
  return y
    .command(
      'add <name>',
      'add a schedule: the leader submits a task of --type at each occurrence of --cron (task id sched.NAME.MS)',
      (s: Argv) =>
        globalOptions(nameArg(s))
          .option('cron', { type: 'string', demandOption: true, describe: 'cron expression: 5 fields, or 6 with seconds first ("*/10 * * * * *")' })
          .option('tz', { type: 'string', describe: 'IANA time zone of the expression (default: this machine\'s, stored with the schedule)' })
          .option('type', { type: 'string', demandOption: true, describe: 'task type of each occurrence' })
          .option('payload', { type: 'string', describe: 'JSON payload of each occurrence; @FILE reads a file, - stdin' })
          .option('misfire', { choices: ['skip', 'catch-up'] as const, default: 'skip' as const, describe: 'occurrences missed while no leader could act: skip them, or catch up the most recent --catch-up-max' })
          .option('catch-up-max', { type: 'number', describe: 'most missed occurrences one catch-up submits (1..1000, default 10)' })
          .option('priority', { type: 'number', describe: 'task priority 0..9999' })
          .option('max-attempts', { type: 'number', describe: 'attempts of each occurrence (1..1000)' })
          .option('labels', { type: 'string', describe: 'labels k=v,... a worker must carry' })
          .option('paused', { type: 'boolean', default: false, describe: 'add it paused' })
          .option('replace', { type: 'boolean', default: false, describe: 'replace a schedule of that name (its cursor starts again from now)' })
          .check((a) => (specOf(a as unknown as AddArgs, null), true)) as unknown as Argv<AddArgs>,
      add,
    )
    .command('list', 'list the schedules: cron, type, next occurrence, cursor, skipped, paused', (s: Argv) => globalOptions(s) as unknown as Argv<GlobalArgs>, list)
    .command('remove <name>', 'remove a schedule (occurrences already submitted go on)', (s: Argv) => globalOptions(nameArg(s)) as unknown as Argv<NameArgs>, remove)
    .command('pause <name>', 'pause a schedule: it fires nothing; the occurrences meanwhile are skipped', (s: Argv) => globalOptions(nameArg(s)) as unknown as Argv<NameArgs>, (a: NameArgs) => change(a, 'pause'))
    .command('resume <name>', 'resume a schedule from now (the occurrences of the pause are counted skipped)', (s: Argv) => globalOptions(nameArg(s)) as unknown as Argv<NameArgs>, (a: NameArgs) => change(a, 'resume'))
    .demandCommand(1, 'name a schedule command: add, list, remove, pause or resume') as unknown as Argv;
}

/** Never runs: yargs runs the subcommand's handler instead (an unknown one is a usage error). */
export async function handler(): Promise<ExitCode> {
  return EXIT.usage;
}

/** The spec, every field checked (as a UsageError: before connecting). `payload` null: checked without it. */
function specOf(a: AddArgs, payload: unknown): ScheduleSpec {
  if (a.catchUpMax !== undefined && a.misfire !== 'catch-up') throw new UsageError('--catch-up-max applies to --misfire catch-up only');
  try {
    cronOf(a.cron, a.tz);
    const spec: ScheduleSpec = {
      cron: a.cron,
      ...(a.tz === undefined ? {} : { tz: a.tz }),
      type: a.type,
      payload,
      misfire: { policy: a.misfire, ...(a.catchUpMax === undefined ? {} : { max: a.catchUpMax }) },
      ...(a.priority === undefined ? {} : { priority: a.priority }),
      ...(a.maxAttempts === undefined ? {} : { maxAttempts: a.maxAttempts }),
      ...(a.labels === undefined ? {} : { labels: parseLabels(a.labels) }),
      paused: a.paused,
    };
    newSchedule(a.name, spec);
    return spec;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function add(a: AddArgs): Promise<void> {
  const spec = specOf(a, await readPayload(a.payload));
  const s = await withClient(a, (c) => c.schedules.add(a.name, spec, { replace: a.replace }));
  if (a.json) return printJson(s);
  process.stdout.write(`schedule ${s.name} added: ${s.cron}${s.tz ? ` (${s.tz})` : ''} → ${s.type}, next ${when(s.next)}${s.paused ? ' (paused)' : ''}\n`);
}

async function list(a: GlobalArgs): Promise<void> {
  const all = await withClient(a, (c) => c.schedules.list(), { readOnly: true });
  if (a.json) return printJson(all);
  if (all.length === 0) return void process.stdout.write('no schedules\n');
  const rows = [['NAME', 'CRON', 'TZ', 'TYPE', 'MISFIRE', 'NEXT', 'CURSOR', 'SKIPPED', 'STATE'], ...all.map(row)];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  process.stdout.write(rows.map((r) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n');
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());
const row = (s: ScheduleInfo): string[] => [
  s.name,
  s.cron,
  s.tz ?? '-',
  s.type,
  s.misfire.policy === 'catch-up' ? `catch-up ${s.misfire.max}` : 'skip',
  when(s.next),
  when(s.cursor),
  String(s.skipped),
  s.paused ? 'paused' : 'active',
];

async function remove(a: NameArgs): Promise<void> {
  const removed = await withClient(a, (c) => c.schedules.remove(a.name), { readOnly: true });
  if (!removed) throw new ScheduleNotFoundError(a.name);
  if (a.json) return printJson({ name: a.name, removed });
  process.stdout.write(`schedule ${a.name} removed\n`);
}

async function change(a: NameArgs, what: 'pause' | 'resume'): Promise<void> {
  const s = await withClient(a, (c) => (what === 'pause' ? c.schedules.pause(a.name) : c.schedules.resume(a.name)), { readOnly: true });
  if (a.json) return printJson(s);
  process.stdout.write(`schedule ${s.name} ${s.paused ? 'paused' : `active, next ${when(s.next)}`}\n`);
}
