// drover limit set|list|remove: cluster-wide limits per task type or label (client/limits.ts;
// the leader applies a change from its next round). Subcommand handlers end as admin.ts's do:
// a normal return is 0, a UsageError 2, a ControlError 1.
import type { Argv } from 'yargs';
import { assertScope, checkSettings, type Limit, type LimitScope, type LimitSettings } from '../../shared/protocol/limits.js';
import { globalOptions, printJson, UsageError, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

interface ScopeArgs extends GlobalArgs {
  type?: string;
  label?: string;
}
interface SetArgs extends ScopeArgs {
  maxRunning?: number;
  rate?: number;
  burst?: number;
}

export const command = 'limit <command>';
export const describe = 'cluster-wide limits per task type or label (at most N running, R started per second): set, list, remove';

/** --type T or --label k=v, exactly one, checked before connecting. */
function scopeOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('type', { type: 'string', describe: 'the scope: tasks of this type' })
    .option('label', { type: 'string', describe: 'the scope: tasks whose labels hold k=v' })
    .check((a) => {
      scopeOf(a as unknown as ScopeArgs);
      return true;
    }) as Argv<T>;
}

function scopeOf(a: ScopeArgs): LimitScope {
  if ((a.type === undefined) === (a.label === undefined)) throw new UsageError('give the scope: --type T or --label k=v (one of them)');
  const s: LimitScope = a.type !== undefined ? { type: String(a.type) } : { label: String(a.label) };
  try {
    assertScope(s);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return s;
}

export function builder(y: Argv): Argv {
  return y
    .command(
      'set',
      'set (replace) the limits of a scope: --max-running N, --rate R (starts per second), --burst B (default ceil(R))',
      (s: Argv) =>
        scopeOptions(globalOptions(s))
          .option('max-running', { type: 'number', describe: 'at most N tasks of the scope assigned or running across the cluster' })
          .option('rate', { type: 'number', describe: 'at most R tasks of the scope started per second' })
          .option('burst', { type: 'number', describe: 'starts allowed at once after a quiet spell (the bucket size; needs --rate)' })
          .check((a) => {
            if (a['max-running'] === undefined && a.rate === undefined) throw new UsageError('give --max-running N, --rate R, or both');
            try {
              checkSettings(settingsOf(a as unknown as SetArgs));
            } catch (err) {
              throw new UsageError((err as Error).message);
            }
            return true;
          }) as unknown as Argv<SetArgs>,
      set,
    )
    .command('list', 'the limits set, one a line (--json: as the library returns them)', (s: Argv) => globalOptions(s), list)
    .command('remove', 'remove the limits of a scope', (s: Argv) => scopeOptions(globalOptions(s)) as unknown as Argv<ScopeArgs>, remove)
    .demandCommand(1, 'name a limit command: set, list or remove') as unknown as Argv;
}

/** Never runs: yargs runs the subcommand's handler instead. */
export async function handler(): Promise<ExitCode> {
  return EXIT.usage;
}

async function show(argv: GlobalArgs, limits: Limit[]): Promise<void> {
  if (argv.json) return printJson(limits);
  const { limitLine } = await import('../../client/status-limits.js');
  process.stdout.write(limits.length ? limits.map(limitLine).join('\n') + '\n' : 'no limits set\n');
}

function settingsOf(argv: SetArgs): LimitSettings {
  return {
    ...(argv.maxRunning !== undefined ? { maxRunning: argv.maxRunning } : {}),
    ...(argv.rate !== undefined ? { ratePerSec: argv.rate } : {}),
    ...(argv.burst !== undefined ? { burst: argv.burst } : {}),
  };
}

async function set(argv: SetArgs): Promise<void> {
  await show(argv, await withClient(argv, (c) => c.rateLimits.set(scopeOf(argv), settingsOf(argv)), { readOnly: true }));
}

async function list(argv: GlobalArgs): Promise<void> {
  await show(argv, await withClient(argv, (c) => c.rateLimits.list(), { readOnly: true }));
}

async function remove(argv: ScopeArgs): Promise<void> {
  await show(argv, await withClient(argv, (c) => c.rateLimits.remove(scopeOf(argv)), { readOnly: true }));
}
