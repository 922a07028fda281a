import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { newTaskRecord, TaskValidationError, type SubmitInput, type TaskRecord } from '../../shared/protocol/task-record.js';
import { WaitTimeoutError } from '../../client/drover-client.js';
import { ConnectionLossError, SessionExpiredError } from '../../shared/zk/errors.js';
import { checkInts, globalOptions, parseLabels, printJson, UsageError, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

interface SubmitArgs extends GlobalArgs {
  type?: string;
  payload?: string;
  id?: string;
  priority?: number;
  maxAttempts?: number;
  maxLost?: number;
  timeout?: number;
  labels?: string;
  file?: string;
  wait: boolean;
  waitTimeout?: number;
}

export const command = 'submit [type]';
export const describe = 'submit a task (or --file TASKS.jsonl for many); --wait for its outcome';

export function builder(y: Argv): Argv<SubmitArgs> {
  return globalOptions(y)
    .positional('type', { type: 'string', describe: 'task type (a handler name on the workers)' })
    .option('payload', { type: 'string', describe: 'JSON payload' })
    .option('id', { type: 'string', describe: 'task id (makes the submission idempotent)' })
    .option('priority', { type: 'number', describe: '0..9999, higher runs first' })
    .option('max-attempts', { type: 'number', describe: 'attempts (failing on their own merits) before the task fails' })
    .option('max-lost', { type: 'number', describe: 'attempts lost to infrastructure (not counted above) before the task fails' })
    .option('timeout', { type: 'number', describe: 'per-attempt time limit, ms' })
    .option('labels', { type: 'string', describe: 'only workers with these labels: k=v,...' })
    .option('file', { type: 'string', describe: 'JSON lines, one {"type","payload",...} a line' })
    .option('wait', { type: 'boolean', default: false, describe: 'wait for the outcome and print it' })
    .option('wait-timeout', { type: 'number', describe: 'with --wait: give up after this many ms' })
    .check((a) => {
      if (!a.type && !a.file) throw new UsageError('give a task type or --file');
      if (a.type && a.file) throw new UsageError('give a task type or --file, not both');
      return checkInts(a, { 'wait-timeout': [0, 2_147_483_647] });
    }) as unknown as Argv<SubmitArgs>;
}

function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readJsonl(file: string): Promise<{ inputs: SubmitInput[]; lines: number[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const inputs: SubmitInput[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const v = parseJson(`${file} line ${i + 1}`, line);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file} line ${i + 1}: expected an object`);
    inputs.push(v as SubmitInput);
    lines.push(i + 1);
  });
  if (inputs.length === 0) throw new Error(`${file} holds no tasks`);
  return { inputs, lines };
}

/** Every task is checked before connecting: bad input is refused whole, with its line. */
function validateAll(inputs: SubmitInput[], where: (i: number) => string): void {
  inputs.forEach((input, i) => {
    try {
      newTaskRecord(input);
    } catch (err) {
      if (err instanceof TaskValidationError) throw new TaskValidationError(err.field, `${where(i)}${err.message}`);
      throw err;
    }
  });
}

function outcomeCode(rec: TaskRecord): ExitCode {
  return rec.state === 'succeeded' ? EXIT.ok : rec.state === 'cancelled' ? EXIT.taskCancelled : EXIT.taskFailed;
}

export async function handler(argv: SubmitArgs): Promise<ExitCode> {
  const fromFile = argv.file ? await readJsonl(argv.file) : undefined;
  const inputs: SubmitInput[] = fromFile
    ? fromFile.inputs
    : [
        {
          type: argv.type!,
          payload: argv.payload === undefined ? null : parseJson('--payload', argv.payload),
          id: argv.id,
          priority: argv.priority,
          maxAttempts: argv.maxAttempts,
          maxLost: argv.maxLost,
          timeoutMs: argv.timeout,
          labels: parseLabels(argv.labels),
        },
      ];
  validateAll(inputs, (i) => (fromFile ? `${argv.file} line ${fromFile.lines[i]}: ` : ''));
  return withClient(argv, async (client) => {
    const results = inputs.length === 1 && !argv.file ? [await client.submit(inputs[0]!)] : await client.submitMany(inputs);
    if (!argv.wait) {
      if (argv.json) printJson(argv.file ? results.map((r) => ({ id: r.id, created: r.created })) : { id: results[0]!.id, created: results[0]!.created });
      else for (const r of results) process.stdout.write(r.created ? `${r.id}\n` : `${r.id} (already submitted; not added again)\n`);
      return EXIT.ok;
    }
    let worst: ExitCode = EXIT.ok;
    const outcomes: TaskRecord[] = [];
    // One deadline for the whole command, however many tasks it waits for.
    const timeoutMs = argv.waitTimeout;
    // Every task is waited on at once: the client's waits share its listeners and one watch
    // per task. Outcomes are still printed in input order.
    const settled = new Set<string>();
    const waits = results.map((r) =>
      client.wait(r.id, { timeoutMs }).then((rec) => {
        settled.add(r.id);
        return rec;
      }),
    );
    for (const w of waits) w.catch(() => undefined); // answered in order below
    try {
      for (const w of waits) {
        const rec = await w;
        outcomes.push(rec);
        const code = outcomeCode(rec);
        if (code !== EXIT.ok) worst = code;
        if (!argv.json) {
          if (rec.state === 'succeeded') process.stdout.write(`${rec.id} succeeded: ${JSON.stringify(rec.result)}\n`);
          else process.stdout.write(`${rec.id} ${rec.state} after ${rec.attempt} attempt(s): ${rec.error?.message ?? ''}\n`);
        }
      }
    } catch (err) {
      if (err instanceof WaitTimeoutError) {
        process.stderr.write(`drover: ${err.message} after ${argv.waitTimeout} ms\n`);
        return EXIT.waitTimeout;
      }
      if (err instanceof ConnectionLossError || err instanceof SessionExpiredError) {
        // The tasks are in ZooKeeper and go on without us: say so, and which.
        const pending = results.map((r) => r.id).filter((id) => !settled.has(id));
        const which = pending.length === 1 ? `task ${pending[0]}` : `${pending.length} tasks (${pending[0]}, …)`;
        process.stderr.write(`drover: ZooKeeper unavailable while waiting for ${which}, which stays submitted: ${err.message}\n`);
        return EXIT.unavailable;
      }
      throw err;
    }
    if (argv.json) printJson(argv.file ? outcomes : outcomes[0]);
    return worst;
  });
}
