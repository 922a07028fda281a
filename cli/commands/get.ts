import type { Argv } from 'yargs';
import { TaskNotFoundError } from '../../client/wait-errors.js';
import { checkTaskId, globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { attemptsUsed } from '../../shared/protocol/task-state.js';
import { DEFAULT_MAX_LOST } from '../../shared/protocol/task-record.js';
import { attemptLine, dagLines, heldLine } from '../task-lines.js';

interface GetArgs extends GlobalArgs {
  id: string;
}

export const command = 'get <id>';
export const describe = 'show a task: state, attempt, worker, result or error, its attempts, parents and children';

export function builder(y: Argv): Argv<GetArgs> {
  return globalOptions(y)
    .positional('id', { type: 'string', demandOption: true })
    .check((a) => checkTaskId(a.id)) as unknown as Argv<GetArgs>;
}

export async function handler(argv: GetArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const t = await client.get(String(argv.id));
    if (!t) throw new TaskNotFoundError(String(argv.id));
    if (argv.json) {
      printJson(t);
      return EXIT.ok;
    }
    const lines = [
      `id:        ${t.id}`,
      `type:      ${t.type}`,
      `state:     ${t.state}`,
      `attempt:   ${t.attempt} (${attemptsUsed(t)} of ${t.maxAttempts} used, ${t.lost ?? 0} of ${t.maxLost ?? DEFAULT_MAX_LOST} lost to infrastructure)`,
      `priority:  ${t.priority}`,
      `worker:    ${t.worker ?? '-'}`,
      `created:   ${new Date(t.createdAt).toISOString()}`,
    ];
    if (t.finishedAt) lines.push(`finished:  ${new Date(t.finishedAt).toISOString()}`);
    // A retry gave it a fresh budget from attempt attemptBase+1; the history keeps the earlier ones.
    if (t.retries) lines.push(`retried:   ${t.retries} time${t.retries === 1 ? '' : 's'}, last ${new Date(t.retriedAt ?? t.updatedAt).toISOString()} (budget from attempt ${(t.attemptBase ?? 0) + 1})`);
    const held = heldLine(t);
    if (held) lines.push(`${held[0].padEnd(10)} ${held[1]}`);
    if (t.progress !== undefined) lines.push(`progress:  ${JSON.stringify(t.progress)}`);
    lines.push(`payload:   ${JSON.stringify(t.payload)}`);
    if (t.state === 'succeeded') lines.push(`result:    ${JSON.stringify(t.result)}`);
    if (t.error) lines.push(`error:     [${t.error.kind}] ${t.error.message}`);
    // The attempt history (oldest first; bounded, so the first attempts of a long story may be gone).
    if (t.history?.length) lines.push(`attempts:`, ...t.history.map((a) => `  ${attemptLine(a)}`));
    lines.push(...dagLines(t));
    process.stdout.write(lines.join('\n') + '\n');
    return EXIT.ok;
  }, { readOnly: true });
}
