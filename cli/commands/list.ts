import type { Argv } from 'yargs';
import { TASK_STATES, attemptsUsed, type TaskState } from '../../shared/protocol/task-state.js';
import { MAX_OFFSET, MAX_PAGE, MAX_PAGE_BYTES, type TaskPage } from '../../client/list.js';
import { UsageError, checkInts, globalOptions, parseSince, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { firstLine } from '../../shared/util/first-line.js';

interface ListArgs extends GlobalArgs {
  state?: TaskState;
  deadLetter: boolean;
  type?: string;
  since?: number;
  limit: number;
  offset: number;
}

export const command = 'list';
export const describe = 'list tasks newest first, a page at a time, with the total that match';

export function builder(y: Argv): Argv<ListArgs> {
  return globalOptions(y)
    .option('state', { type: 'string', choices: TASK_STATES as unknown as string[], describe: 'only tasks in this state' })
    .option('dead-letter', { type: 'boolean', default: false, describe: 'the failed tasks, with their error and attempts, and how to retry them' })
    .option('type', { type: 'string', describe: 'only tasks of this type' })
    .option('since', { type: 'string', describe: 'only tasks queued or finished since then: a duration back from now (15m, 2h) or an ISO date; running tasks always', coerce: (v: unknown) => parseSince(v, 'since') })
    .option('limit', { type: 'number', default: 100, describe: `tasks per page (1..${MAX_PAGE})` })
    .option('offset', { type: 'number', default: 0, describe: `skip this many (the next page: --offset LIMIT), at most ${MAX_OFFSET} (deeper: narrow with --since or --state)` })
    .check((a) => {
      if (a.deadLetter && a.state !== undefined && a.state !== 'failed') throw new UsageError(`--dead-letter lists failed tasks: not with --state ${String(a.state)}`);
      return true;
    })
    .check((a) => checkInts(a, { limit: [1, MAX_PAGE], offset: [0, MAX_OFFSET] })) as unknown as Argv<ListArgs>;
}

const n = (x: number) => x.toLocaleString('en-US');

/** The message's first line, cut: the dead letter's rows stay rows. */
/** Characters of an error's first line a dead-letter line shows. */
const MESSAGE_CHARS = 160;

/** The dead-letter view: one failed task a line (when, error kind and first line, attempts), then how to retry. */
function deadLetterLines(page: TaskPage): void {
  for (const t of page.tasks) {
    const when = new Date(t.finishedAt ?? t.updatedAt).toISOString();
    const err = t.error ? `[${t.error.kind}] ${firstLine(t.error.message, MESSAGE_CHARS)}` : '-';
    const retried = t.retries ? `, retried ${t.retries}x` : '';
    process.stdout.write(`${t.id}\t${t.type}\t${when}\t${err}\t${attemptsUsed(t)}/${t.maxAttempts} attempts used, ${t.lost ?? 0} lost${retried}\n`);
  }
  const of = page.exact ? n(page.total) : `at least ${n(page.total)}`;
  process.stdout.write(`${n(page.tasks.length)} of ${of} failed tasks (retry one: drover retry ID; all of a type: drover retry --state failed --type T --yes)\n`);
}

export async function handler(argv: ListArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const page = await client.list({ state: argv.state, deadLetter: argv.deadLetter, type: argv.type, since: argv.since, limit: argv.limit, offset: argv.offset, summary: !argv.json });
    if (argv.json) {
      // One record at a time: a page of big records is never one string.
      const { tasks, ...rest } = page;
      process.stdout.write('{"tasks":[');
      tasks.forEach((t, i) => process.stdout.write((i ? ',' : '') + JSON.stringify(t)));
      process.stdout.write(`],${JSON.stringify(rest).slice(1)}\n`);
      return EXIT.ok;
    }
    if (argv.deadLetter) {
      deadLetterLines(page);
      return EXIT.ok;
    }
    for (const t of page.tasks) {
      const when = new Date(t.finishedAt ?? t.createdAt).toISOString();
      process.stdout.write(`${t.id}\t${t.type}\t${t.state}\t${when}\tattempt ${t.attempt} (${attemptsUsed(t)}/${t.maxAttempts} used, ${t.lost ?? 0} lost)\t${t.worker ?? '-'}\n`);
    }
    // "4 of 275" on the first page, "101-200 of 275" on later ones.
    const shown = page.offset === 0 || page.tasks.length === 0 ? n(page.tasks.length) : `${n(page.offset + 1)}-${n(page.offset + page.tasks.length)}`;
    const of = page.exact
      ? n(page.total)
      : `at least ${n(page.total)} (${n(page.recordsRead)} of ${n(page.candidates)} records read: a --type or single-state filter reads records newest first until the page is full)`;
    process.stdout.write(`${shown} of ${of}${page.cut ? ` (the page stopped at ${MAX_PAGE_BYTES / 1024 / 1024} MiB of records: the next starts at --offset ${page.offset + page.tasks.length})` : ''}\n`);
    return EXIT.ok;
  }, { readOnly: true });
}
