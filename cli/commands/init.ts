// drover init: sets up a cluster root with ZooKeeper ACLs (the root's ACL is the cluster's:
// every process creates its znodes under the root with it), or sets a new ACL on every znode
// of an existing root (--update; running processes keep the ACL they read at start for the
// znodes they create, so they are restarted after).
import type { Argv } from 'yargs';
import { ZkSession } from '../../shared/zk/session.js';
import { ALL_PERMS, CREATOR_ALL_ACL, MAX_ACL_ENTRIES, OPEN_ACL, aclText, identityText, parseAclSpec, permsOf, type Acl } from '../../shared/zk/acl.js';
import { initRoot, rootExists, updateRootAcl } from '../../shared/protocol/root-acl.js';
import { UsageError, globalOptions, printJson, zkAuthOf, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

interface InitArgs extends GlobalArgs {
  acl?: string[];
  update: boolean;
}

export const command = 'init';
export const describe = 'set up a cluster root with ZooKeeper ACLs';

export function builder(y: Argv): Argv<InitArgs> {
  return globalOptions(y)
    .option('acl', {
      type: 'array',
      string: true,
      describe: `an ACL entry of the root: digest:USER:PASSWORD:PERMS or world:anyone:PERMS, PERMS of cdrwa (repeatable, at most ${MAX_ACL_ENTRIES}); default: the --zk-auth identity with cdrwa`,
    })
    .option('update', { type: 'boolean', default: false, describe: 'the root exists: set the ACL on every znode under it (restart running processes after)' })
    .example('$0 init --zk-auth digest:admin:s3cret --acl digest:admin:s3cret:cdrwa --acl digest:viewer:pw:r', 'a root only admin may change and viewer may read')
    .check((a) => (aclOf(a as unknown as InitArgs), true)) as unknown as Argv<InitArgs>;
}

/** The ACL asked for; refuses a bad spec, too many entries, or one that locks out the identity running init. */
function aclOf(a: InitArgs): Acl {
  if (a.root === '/') throw new UsageError('init: --root / is ZooKeeper itself; name a cluster root such as /drover');
  const auth = zkAuthOf(a);
  let acl: Acl;
  if (!a.acl || a.acl.length === 0) acl = auth ? CREATOR_ALL_ACL : OPEN_ACL;
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

export async function handler(argv: InitArgs): Promise<ExitCode> {
  const acl = aclOf(argv);
  const session = await ZkSession.open({ connectString: argv.zk, auth: zkAuthOf(argv), connectTimeoutMs: argv.connectTimeout, sessionTimeoutMs: argv.sessionTimeout });
  try {
    const exists = await rootExists(session, argv.root);
    if (exists && !argv.update) {
      process.stderr.write(`drover: ${argv.root} exists; --update sets the ACL on every znode under it (then restart its masters and workers)\n`);
      return EXIT.error;
    }
    const r = exists ? await updateRootAcl(session, argv.root, acl) : await initRoot(session, argv.root, acl);
    const shown = (await session.getACL(argv.root)).acl;
    if (argv.json) printJson({ ...r, acl: aclText(shown).split(', ') });
    else process.stdout.write(`${argv.root}: ${r.created ? 'created' : `ACL set on ${r.updated} znodes`}; ACL ${aclText(shown)}\n`);
    return EXIT.ok;
  } finally {
    await session.close();
  }
}
