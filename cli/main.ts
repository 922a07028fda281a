// The drover CLI: one bin, one yargs command per file. Commands return an exit code; only
// bin/drover.js exits the process. Errors print one line, never a stack.
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import * as master from './commands/master.js';
import * as worker from './commands/worker.js';
import * as submit from './commands/submit.js';
import * as get from './commands/get.js';
import * as list from './commands/list.js';
import * as cancel from './commands/cancel.js';
import * as status from './commands/status.js';
import * as wait from './commands/wait.js';
import * as watch from './commands/watch.js';
import * as init from './commands/init.js';
import * as admin from './commands/admin.js';
import * as drain from './commands/drain.js';
import * as pause from './commands/pause.js';
import * as resume from './commands/resume.js';
import * as retry from './commands/retry.js';
import * as schedule from './commands/schedule.js';
import * as limit from './commands/limit.js';
import { describeError, UsageError } from './common.js';
import { attributeError, CONFIG_FILE, layerOptions, type Layered } from './config-file.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { forcedExit } from './signals.js';

interface CommandModule {
  command: string;
  describe: string;
  builder: (y: any) => any;
  handler: (argv: any) => Promise<ExitCode>;
}

const COMMANDS: CommandModule[] = [master, worker, submit, wait, watch, get, list, cancel, retry, status, drain, pause, resume, schedule, limit, init, admin];

/** The package's version, read from package.json (above dist/cli/ when built, above cli/ in sources). */
function packageVersion(): string {
  try {
    const url = new URL(import.meta.url.includes('/dist/') ? '../../package.json' : '../package.json', import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Runs the command; a second SIGINT/SIGTERM during a graceful stop ends it at once (EXIT.interrupted). */
export function main(args: string[]): Promise<ExitCode> {
  return Promise.race([run(args), forcedExit]);
}

/** Options whose value may be `-` (stdin): yargs would take a lone `-` for a positional. */
const STDIN_OPTIONS = new Set(['--file', '--payload']);

/**
 * `--file -`, `--payload -` as `--file=-`; `wait -` as `wait --stdin` (yargs drops a lone -
 * positional), the command being the first word that names one (`drover --zk h wait -`: a
 * host or root named like a command is not worth the ambiguity of telling values from flags).
 */
function joinStdinValues(args: string[]): string[] {
  const names = new Set(COMMANDS.map((c) => c.command.split(' ')[0]!));
  const out: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (STDIN_OPTIONS.has(a) && args[i + 1] === '-') out.push(`${args[i++]}=-`);
    else if (a === '-' && command === 'wait') out.push('--stdin');
    else {
      if (command === undefined && names.has(a)) command = a;
      out.push(a);
    }
  }
  return out;
}

async function run(rawArgs: string[]): Promise<ExitCode> {
  let code: ExitCode = EXIT.ok;
  let usageError: string | undefined;
  const args = joinStdinValues(rawArgs);
  let layered: Layered;
  try {
    layered = layerOptions(COMMANDS, args, process.env, process.cwd());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`drover: ${err.message} (see drover --help)\n`);
    return EXIT.usage;
  }
  const cli = yargs(args)
    .scriptName('drover')
    .usage('$0 <command> [options]')
    .strict()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .help()
    .version(packageVersion())
    .wrap(Math.min(100, process.stdout.columns || 100))
    .option('config', { type: 'string', describe: `JSON file of option values: { "zk": ..., "worker": { "concurrency": 8 } }`, defaultDescription: `$DROVER_CONFIG, else ./${CONFIG_FILE} if present` })
    // Below the flags, above the defaults (yargs' order): the environment over the file.
    .config(layered.values)
    .epilogue(`Every option can also be set as DROVER_<OPTION> (DROVER_SESSION_TIMEOUT=6s) or in the config file; a flag wins over the environment, which wins over the file.`)
    .fail((msg, err) => {
      // Throw, not just record: yargs would otherwise go on and run the command's handler
      // (a `get` without its id would try to connect before the usage error was seen).
      // yargs wraps what a coerce function throws (a bad duration) in its YError: a usage error too.
      if (err?.name === 'YError') throw new UsageError(err.message);
      throw err ?? new UsageError(msg);
    });
  for (const c of COMMANDS) {
    cli.command(c.command, c.describe, c.builder, async (argv: unknown) => {
      code = await c.handler(argv);
    });
  }
  try {
    await cli.parseAsync();
  } catch (err) {
    if (err instanceof UsageError) usageError = attributeError(err.message, layered.sources, args).replace(/\s*\n\s*/g, ' ');
    else {
      const { line, code: c } = describeError(err);
      process.stderr.write(`drover: ${line}\n`);
      return c;
    }
  }
  if (usageError !== undefined) {
    process.stderr.write(`drover: ${usageError} (see drover --help)\n`);
    return EXIT.usage;
  }
  return code;
}
