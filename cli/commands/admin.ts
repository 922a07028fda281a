// `drover admin roots` and `drover admin destroy`: the roots on the ensemble, and removing one.
// yargs runs only a subcommand's handler (main.ts never sees its return value), so these
// handlers end in the ways main.ts turns into an exit code: a normal return is 0, a
// UsageError 2, a refusal (DestroyRefusedError) 1, ZooKeeper unreachable 3.
import type { Argv } from 'yargs';
import type { RootInfo, RootSearch } from '../../client/admin-roots.js';
import type { ZkSession } from '../../shared/zk/session.js';
import { globalOptions, printJson, UsageError, zkAuthOf, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

export const command = 'admin <command>';
export const describe = 'list or remove cluster roots on the ensemble';

interface DestroyArgs extends GlobalArgs {
  yes: boolean;
}

export function builder(y: Argv): Argv {
  return y
    .command(
      'roots',
      'list the drover roots on the ensemble (a walk from /, bounded: depth 8, 10 000 znodes)',
      (s: Argv) =>
        globalOptions(s)
          // The walk is of the whole ensemble: a --root would be ignored, so it is refused (hidden:
          // DROVER_ROOT and a config file's root, meant for other commands, are not taken).
          .option('root', { type: 'string', default: undefined, hidden: true })
          .middleware((a) => {
            // Run more than once by yargs: the '/' set below is let through (and a typed --root / is the walk's own start).
            if (a.root !== undefined && a.root !== '/') throw new UsageError('admin roots walks the whole ensemble from /: it takes no --root');
            a.root = '/'; // for globalOptions' check; unused
          }, true) as unknown as Argv<GlobalArgs>,
      roots,
    )
    .command(
      'destroy',
      'remove a root and everything under it: needs --root R and --yes, both on the command line; refused while a master or worker is alive',
      (s: Argv) =>
        globalOptions(s)
          .usage('$0 admin destroy --root R --yes\n\nremove the root R and everything under it; refused while a master or worker is alive')
          // Hidden: the config layer (cli/config-file.ts) then never takes them from a file or
          // DROVER_* variable, so what is destroyed, and the confirmation, are always typed.
          .option('root', { type: 'string', default: undefined, hidden: true })
          .option('yes', { type: 'boolean', default: false, hidden: true })
          // Before the checks (globalOptions' would refuse the missing root less clearly).
          .middleware((a) => {
            if (a.root === undefined) throw new UsageError('admin destroy takes its root only from the command line: give --root R (DROVER_ROOT and the config file do not choose what is destroyed)');
          }, true)
          .check((a) => {
            if (!a.yes) throw new UsageError(`admin destroy removes ${a.root} and every znode under it (tasks, queue, history, layout); nothing removed: add --yes to do it`);
            return true;
          }) as unknown as Argv<DestroyArgs>,
      destroy,
    )
    .demandCommand(1, 'name an admin command: roots or destroy') as unknown as Argv;
}

/** Never runs: yargs runs the subcommand's handler instead (an unknown one is a usage error). */
export async function handler(): Promise<ExitCode> {
  return EXIT.usage;
}

/** A plain session: the admin commands work on the ensemble, not on one root's layout. */
async function withSession<T>(argv: GlobalArgs, fn: (s: ZkSession) => Promise<T>): Promise<T> {
  const { ZkSession } = await import('../../shared/zk/session.js');
  const session = await ZkSession.open({ connectString: argv.zk, auth: zkAuthOf(argv), sessionTimeoutMs: argv.sessionTimeout, connectTimeoutMs: argv.connectTimeout });
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

const n = (x: number) => x.toLocaleString('en-US');

async function roots(argv: GlobalArgs): Promise<void> {
  const bounds = await import('../../client/admin-roots.js');
  const found = await withSession(argv, (s) => bounds.findRoots(s));
  const cut = found.stopped ? cutNote(found, bounds) : undefined;
  const locked = found.unreadable.length ? `(${found.unreadable.length} not readable with this identity, their layout refused by ACL: ${found.unreadable.slice(0, 5).join(', ')}${found.unreadable.length > 5 ? ', …' : ''})` : undefined;
  if (argv.json) {
    printJson(found.roots);
    for (const note of [cut, locked]) if (note) process.stderr.write(`drover: ${note}\n`);
    return;
  }
  const out = [['ROOT', 'SHARDS', 'CREATED', 'MASTERS', 'WORKERS', 'TASKS', 'QUEUED', 'STATE'], ...found.roots.map(row)];
  const widths = out[0]!.map((_, c) => Math.max(...out.map((r) => r[c]!.length)));
  const lines = out.map((r) => r.map((v, c) => (c === 0 || c === 2 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ').trimEnd());
  if (found.roots.length === 0) lines.push('no drover roots found');
  for (const note of [cut, locked]) if (note) lines.push(note);
  for (const r of found.roots) if (r.state === 'destroying') lines.push(`(${r.root} is being destroyed: finish with drover admin destroy --root ${r.root} --yes)`);
  process.stdout.write(lines.join('\n') + '\n');
}

const row = (r: RootInfo): string[] => [r.root, String(r.shards), new Date(r.createdAt).toISOString(), n(r.masters), n(r.workers), n(r.tasks), n(r.queued), r.state];

/** Which bounds cut the walk (roots beyond them may be missing). */
function cutNote({ cuts, visited }: RootSearch, { ROOTS_MAX_VISITED, ROOTS_MAX_DEPTH, LIST_MAX }: typeof import('../../client/admin-roots.js')): string {
  const why: string[] = [];
  if (cuts.budget) why.push(`znode budget of ${n(ROOTS_MAX_VISITED)} spent (${n(visited)} visited)`);
  if (cuts.depth) why.push(`not walked below depth ${ROOTS_MAX_DEPTH}`);
  const list = (xs: string[]) => xs.slice(0, 3).join(', ') + (xs.length > 3 ? `, … (${xs.length})` : '');
  if (cuts.big.length) why.push(`not listed, over ${n(LIST_MAX)} children: ${list(cuts.big.map((b) => `${b.path} (${n(b.children)})`))}`);
  if (cuts.unlistable.length) why.push(`not listable with this identity: ${list(cuts.unlistable)}`);
  return `(search cut, roots may be missing: ${why.join('; ')})`;
}

async function destroy(argv: DestroyArgs): Promise<void> {
  const { destroyRoot } = await import('../../client/admin-destroy.js');
  const r = await withSession(argv, (s) => destroyRoot(s, argv.root));
  if (argv.json) return printJson({ root: r.root, removed: r.removed, tasks: r.before.tasks, resumed: r.resumed });
  const tasks = `${n(r.before.tasks)} ${r.before.tasks === 1 ? 'task' : 'tasks'}`;
  process.stdout.write(`removed ${r.root}: ${n(r.removed)} znodes (${tasks}${r.resumed ? ', finishing an interrupted destroy' : ''})\n`);
}
