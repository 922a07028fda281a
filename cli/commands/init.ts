// drover init: sets up a cluster root with ZooKeeper ACLs (the root's ACL is the cluster's:
// every process creates its znodes under the root with it), or sets a new ACL on every znode
// of an existing root (--update; running processes keep the ACL they read at start for the
// znodes they create, so they are restarted after, and --update run again).
import type { Argv } from 'yargs';
import type { ZkSession } from '../../shared/zk/session.js';
import { ALL_PERMS, CREATOR_ALL_ACL, MAX_ACL_ENTRIES, OPEN_ACL, aclText, digestIds, identityText, parseAclSpec, permsOf, type Acl } from '../../shared/zk/acl-spec.js';
import { UsageError, globalOptions, printJson, zkAuthOf, type GlobalArgs } from '../common.js';
import { isZooKeeperTree } from '../../shared/protocol/id-checks.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

interface InitArgs extends GlobalArgs {
  acl?: string[];
  update: boolean;
  force: boolean;
}

export const command = 'init';
export const describe = 'set up a cluster root with ZooKeeper ACLs';

/** Printed after --update: what running processes created meanwhile still has the old ACL. */
export const AFTER_UPDATE = 'znodes that running masters and workers create meanwhile keep the old ACL: restart masters and workers, then run init --update again';

export function builder(y: Argv): Argv<InitArgs> {
  return globalOptions(y)
    .option('acl', {
      type: 'array',
      string: true,
      describe: `an ACL entry of the root: digest:USER:PASSWORD:PERMS or world:anyone:PERMS, PERMS of cdrwa (repeatable, at most ${MAX_ACL_ENTRIES}); default: the --zk-auth identity with cdrwa`,
    })
    .option('update', { type: 'boolean', default: false, describe: 'the root exists: set the ACL on every znode under it (restart running processes after, then run it again)' })
    .option('force', { type: 'boolean', default: false, describe: 'with --update: even if it takes c or w from an identity the root grants them now' })
    .example('$0 init --zk-auth digest:admin:s3cret --acl digest:admin:s3cret:cdrwa --acl digest:viewer:pw:r', 'a root only admin may change and viewer may read')
    .check((a) => Boolean(aclOf(a as unknown as InitArgs))) as unknown as Argv<InitArgs>;
}

/** The root's checks and writes: loaded when init runs, not by every command's builder. */
const rootAcl = () => Promise.all([import('../../shared/protocol/root-acl.js'), import('../../shared/protocol/root-acl-checks.js')]).then(([a, b]) => ({ ...a, ...b }));

/** The ACL asked for; refuses a bad spec, too many entries, or one that locks out the identity running init. */
function aclOf(a: InitArgs): Acl {
  if (a.root === '/') throw new UsageError('init: --root / is ZooKeeper itself; name a cluster root such as /drover');
  if (isZooKeeperTree(a.root)) throw new UsageError(`init: ${a.root} is ZooKeeper's own tree; name a cluster root such as /drover`);
  const auth = zkAuthOf(a);
  let acl: Acl;
  // A bare --acl (its value forgotten) would otherwise make the default: an open root, say.
  if (a.acl !== undefined && a.acl.length === 0) throw new UsageError('--acl: give an entry (digest:USER:PASSWORD:PERMS or world:anyone:PERMS)');
  if (!a.acl) acl = auth ? CREATOR_ALL_ACL : OPEN_ACL;
  else {
    if (a.acl.length > MAX_ACL_ENTRIES) throw new UsageError(`--acl: at most ${MAX_ACL_ENTRIES} entries (each is carried by every create)`);
    acl = a.acl.map((spec) => {
      try {
        const { user: _user, ...entry } = parseAclSpec(String(spec));
        return entry;
      } catch (err) {
        throw new UsageError(`--acl: ${(err as Error).message}`);
      }
    });
    if (permsOf(acl, auth) !== ALL_PERMS) {
      throw new UsageError(`--acl: ${identityText(auth)} (running init) would not keep cdrwa on ${a.root}; add it (e.g. --acl digest:USER:PASSWORD:cdrwa with its --zk-auth)`);
    }
  }
  return acl;
}

/** Why --update must not go on (null: it may). */
async function updateRefusal(session: ZkSession, argv: InitArgs, acl: Acl): Promise<string | null> {
  const { notALayout, droppedWriters } = await rootAcl();
  const why = await notALayout(session, argv.root);
  if (why) return why;
  if (argv.force) return null;
  // `auth` (creator-all) stands for this session's own digest ids.
  const ids = digestIds(zkAuthOf(argv));
  const next = acl.flatMap((e) => (e.scheme === 'auth' ? ids.map((id) => ({ perms: e.perms, scheme: 'digest', id })) : [e]));
  const dropped = droppedWriters((await session.retrying(() => session.getACL(argv.root))).acl, next);
  if (dropped.length === 0) return null;
  return `--update would take c or w from ${aclText(dropped)} (its running masters and workers would be refused mid-run); keep them in --acl, or stop them and add --force`;
}

export async function handler(argv: InitArgs): Promise<ExitCode> {
  const acl = aclOf(argv);
  const [{ ZkSession }, { rootExists, aclWarnings, updateRootAcl, initRoot, RootAppearedError }] = await Promise.all([import('../../shared/zk/session.js'), rootAcl()]);
  const session = await ZkSession.open({ connectString: argv.zk, auth: zkAuthOf(argv), connectTimeoutMs: argv.connectTimeout, sessionTimeoutMs: argv.sessionTimeout });
  try {
    const exists = await rootExists(session, argv.root);
    if (exists && !argv.update) {
      // --update is the way only for a drover root: for anything else it would refuse too.
      // A drover root being destroyed or of another format: its layout's own line. No layout (a
      // foreign znode): another root. Unreadable to this identity: the usual line.
      const { layoutOf } = await rootAcl();
      const layout = await layoutOf(session, argv.root).catch(() => 'unreadable' as const);
      const line =
        layout instanceof Error ? layout.message
        : layout === null ? `${argv.root} exists and holds no drover layout (no ${argv.root}/layout): choose another --root`
        : `${argv.root} exists; --update sets the ACL on every znode under it (then restart its masters and workers)`;
      process.stderr.write(`drover: ${line}\n`);
      return EXIT.error;
    }
    const refused = exists ? await updateRefusal(session, argv, acl) : null;
    if (refused) {
      process.stderr.write(`drover: ${refused}\n`);
      return EXIT.error;
    }
    for (const w of aclWarnings(acl)) process.stderr.write(`drover: warning: ${w}\n`);
    let r;
    try {
      r = exists ? await updateRootAcl(session, argv.root, acl) : await initRoot(session, argv.root, acl);
    } catch (err) {
      if (!(err instanceof RootAppearedError)) throw err;
      process.stderr.write(`drover: ${err.message}\n`);
      return EXIT.error;
    }
    const shown = (await session.getACL(argv.root)).acl;
    if (argv.json) printJson({ ...r, acl: aclText(shown).split(', ') });
    else {
      process.stdout.write(`${argv.root}: ${r.created ? 'created' : `ACL set on ${r.updated} znodes`}; ACL ${aclText(shown)}\n`);
      if (!r.created) process.stdout.write(`${AFTER_UPDATE}\n`);
    }
    return EXIT.ok;
  } finally {
    await session.close();
  }
}
