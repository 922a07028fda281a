import type { Argv } from 'yargs';
import { MAX_DELAY_MS, newTaskId, type SubmitInput } from '../../shared/protocol/task-record.js';
import { awaitTasks, goesOnLine, idList, JsonArrayLines } from '../await-tasks.js';
import { checkInts, durationOption, globalOptions, parseLabels, printJson, UsageError, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { NO_PROGRESS, progressFor } from '../progress.js';
import { onInterrupt } from '../signals.js';
import { parseRunAt, RunAtError } from '../run-at.js';
import { readPayload, readTaskLines, validateAll } from '../task-input.js';
import { topoOrder } from '../../client/dag-submit.js';

interface SubmitArgs extends GlobalArgs {
  type?: string;
  payload?: string;
  id?: string;
  priority?: number;
  maxAttempts?: number;
  maxLost?: number;
  timeout?: number;
  delay?: number;
  runAt?: number;
  labels?: string;
  file?: string;
  after?: string[];
  onParentFailure?: 'fail' | 'run';
  wait: boolean;
  waitTimeout?: number;
  progress: boolean;
}

export const command = 'submit [type]';
export const describe = 'submit a task (or --file TASKS.jsonl for many); --wait for its outcome';

export function builder(y: Argv): Argv<SubmitArgs> {
  return globalOptions(y)
    .positional('type', { type: 'string', describe: 'task type (a handler name on the workers)' })
    .option('payload', { type: 'string', describe: 'JSON payload; @FILE reads it from a file, - from stdin' })
    .option('id', { type: 'string', describe: 'task id (makes the submission idempotent)' })
    .option('priority', { type: 'number', describe: '0..9999, higher runs first' })
    .option('max-attempts', { type: 'number', describe: 'attempts (failing on their own merits) before the task fails' })
    .option('max-lost', { type: 'number', describe: 'attempts lost to infrastructure (not counted above) before the task fails' })
    .option('timeout', durationOption('timeout', 'per-attempt time limit'))
    .option('labels', { type: 'string', describe: 'only workers with these labels: k=v,...' })
    .option('delay', durationOption('delay', 'start no earlier than this long after the submission (at most 365d)'))
    .option('run-at', {
      type: 'string',
      describe: 'start no earlier than this time: ISO 8601 with a zone (2030-05-01T12:00:00Z, …+02:00); not in the past, at most 365 days ahead',
      coerce: runAtOption,
    })
    .option('file', { type: 'string', describe: 'JSON lines, one {"type","payload",...} a line (- reads stdin); a line\'s dependsOn names ids of lines of the file or existing tasks' })
    .option('after', { type: 'string', array: true, describe: 'run after these tasks succeed: ID[,ID...] (repeatable); the task waits (state waiting) until then' })
    .option('on-parent-failure', { choices: ['fail', 'run'] as const, describe: 'with --after: when a parent fails or is cancelled, fail this task (dependency-failed; the default) or run it anyway' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait for the outcome and print it' })
    .option('wait-timeout', durationOption('wait-timeout', 'with --wait: give up after this long'))
    .option('progress', { type: 'boolean', default: true, describe: 'with --file --wait: progress on stderr (a bar when stderr is a terminal and stdout is not, lines otherwise); --no-progress for none' })
    .check((a) => {
      if (!a.type && !a.file) throw new UsageError('give a task type or --file');
      if (a.type && a.file) throw new UsageError('give a task type or --file, not both');
      if (a.payload === '-' && a.file === '-') throw new UsageError('--payload - and --file - cannot both read stdin');
      if (a.delay !== undefined && a.runAt !== undefined) throw new UsageError('give --delay or --run-at, not both');
      if (a.file && (a.delay !== undefined || a.runAt !== undefined)) throw new UsageError('--delay and --run-at are for one task: with --file, give each line a delayMs or runAt');
      if (a.file && (a.after !== undefined || a.onParentFailure !== undefined)) throw new UsageError('--after and --on-parent-failure are for one task: with --file, give each line a dependsOn (and onParentFailure)');
      if (a.onParentFailure !== undefined && a.after === undefined) throw new UsageError('--on-parent-failure goes with --after');
      afterOptions(a);
      return checkInts(a, { 'wait-timeout': [0, 2_147_483_647], timeout: [0, 7 * 86_400_000], delay: [0, MAX_DELAY_MS] });
    }) as unknown as Argv<SubmitArgs>;
}

export async function handler(argv: SubmitArgs): Promise<ExitCode> {
  const fromFile = argv.file ? await readTaskLines(argv.file) : undefined;
  const inputs: SubmitInput[] = fromFile
    ? fromFile.inputs
    : [
        {
          type: argv.type!,
          payload: await readPayload(argv.payload),
          id: argv.id,
          priority: argv.priority,
          maxAttempts: argv.maxAttempts,
          maxLost: argv.maxLost,
          timeoutMs: argv.timeout,
          labels: parseLabels(argv.labels),
          // Computed from now when the record is made (the submitter's clock; see newTaskRecord).
          delayMs: argv.delay,
          runAt: argv.runAt,
          ...afterOptions(argv),
        },
      ];
  validateAll(inputs, (i) => (fromFile ? `${argv.file === '-' ? 'stdin' : argv.file} line ${fromFile.lines[i]}: ` : ''));
  // Ids known before anything is sent: a Ctrl-C during the submission can name what went in.
  for (const input of inputs) input.id ??= newTaskId();
  // Parents first (a cycle is refused here, before connecting): the submitted are then a prefix.
  if (inputs.some((t) => t.dependsOn?.length)) {
    const order = topoOrder(
      inputs.map((t) => t.id!),
      inputs.map((t) => t.dependsOn ?? []),
    );
    inputs.splice(0, inputs.length, ...order.map((i) => inputs[i]!));
  }
  const many = Boolean(argv.file);
  const progress = many && argv.wait ? progressFor(inputs.length, argv.progress) : NO_PROGRESS;
  const { BATCH_LIMITS } = await import('../../shared/protocol/task-ops.js');
  return withClient(argv, async (client) => {
    let submitted = 0;
    // A Ctrl-C during the submission ends the command at once (what went in goes on).
    let interrupt!: () => void;
    const stopped = new Promise<null>((resolve) => (interrupt = () => resolve(null)));
    const off = onInterrupt((signal) => {
      progress.stop();
      process.stderr.write(interruptedLines(signal, inputs, submitted, many ? BATCH_LIMITS.maxItems : 1));
      interrupt();
    });
    let results;
    // The bar hides the cursor and turns line wrap off: whatever ends the command restores them.
    try {
      try {
        const submitting = many
          ? client.submitMany(inputs, {
              onSubmitted: (n) => {
                submitted = n;
                progress.submitted(n);
              },
            })
          : client.submit(inputs[0]!).then((r) => [r]);
        submitting.catch(() => undefined); // a failure after an interrupt is nobody's answer
        results = await Promise.race([submitting, stopped]);
      } finally {
        off();
      }
      if (results === null) return EXIT.interrupted;
      if (!argv.wait) {
        if (argv.json && many) {
          // As --wait --json prints its outcomes: one element a line, not one string of a million.
          const array = new JsonArrayLines();
          for (const r of results) array.item({ id: r.id, created: r.created });
          array.end();
        } else if (argv.json) printJson({ id: results[0]!.id, created: results[0]!.created });
        else for (const r of results) process.stdout.write(r.created ? `${r.id}\n` : `${r.id} (already submitted; not added again)\n`);
        return EXIT.ok;
      }
      return await awaitTasks(client, results.map((r) => r.id), { json: argv.json, single: !many, timeoutMs: argv.waitTimeout, progress });
    } finally {
      progress.stop();
    }
  });
}

/** --after ID[,ID...] (repeatable) as dependsOn, with --on-parent-failure; nothing without --after. */
export function afterOptions(a: { after?: string[]; onParentFailure?: 'fail' | 'run' }): Pick<SubmitInput, 'dependsOn' | 'onParentFailure'> {
  if (a.after === undefined) return {};
  const ids = a.after.flatMap((v) => String(v).split(',')).map((v) => v.trim());
  if (ids.some((v) => v === '')) throw new UsageError('--after: an empty task id (give ID[,ID...])');
  return { dependsOn: ids, ...(a.onParentFailure ? { onParentFailure: a.onParentFailure } : {}) };
}

/** --run-at as ms since the epoch: a bad or past time is a usage error (yargs wraps it). */
function runAtOption(v: unknown): number {
  try {
    return parseRunAt(v);
  } catch (err) {
    if (err instanceof RunAtError) throw new UsageError(`--run-at: ${err.message}`);
    throw err;
  }
}

/**
 * What a Ctrl-C during the submission leaves: the confirmed tasks (they go on; how to
 * re-attach), and those of the batch in flight, which may or may not have gone in (`batch`:
 * one batched multi holds at most BATCH_LIMITS.maxItems tasks; a single submit: its own id, 1).
 */
export function interruptedLines(signal: string, inputs: readonly SubmitInput[], submitted: number, batch: number): string {
  const ids = inputs.slice(0, submitted).map((t) => t.id!);
  const inFlight = inputs.slice(submitted, submitted + batch).map((t) => t.id!);
  const what = `interrupted (${signal}) while submitting: ${submitted} of ${inputs.length} submitted`;
  let out = ids.length > 0 ? goesOnLine(what, ids) : `drover: ${what}\n`;
  if (inFlight.length > 0) {
    const l = idList(inFlight);
    const these = inFlight.length === 1 ? 'task in flight may have been submitted' : `${inFlight.length} tasks in flight may have been submitted`;
    out += `drover: ${these} (drover get ID tells): ${l.file ? `ids in ${l.file}` : l.listed}\n`;
  }
  return out;
}
