// The one line a refused request (NO_AUTH) becomes: the request, the permission it needs on
// which node, and who this client is (never its secret), e.g.
//   permission denied: create /drover/tasks/0a/t1 needs CREATE on /drover/tasks/0a
//   (this client: digest:viewer; check --zk-auth)
import { NoAuthError, type ZkError } from './errors.js';

/** ZooKeeper's rule per request: which permission, on the node or on its parent. */
function needs(op: string, path: string): { perm: string; on: string } {
  const parent = path.lastIndexOf('/') > 0 ? path.slice(0, path.lastIndexOf('/')) : '/';
  switch (op) {
    case 'create':
      return { perm: 'CREATE', on: parent };
    case 'remove':
      return { perm: 'DELETE', on: parent };
    case 'setData':
      return { perm: 'WRITE', on: path };
    case 'setACL':
      return { perm: 'ADMIN', on: path };
    case 'getACL':
      return { perm: 'READ or ADMIN', on: path };
    default: // getData, getChildren, multiRead, check, addWatch
      return { perm: 'READ', on: path };
  }
}

/** `/drover/tasks` for /drover/tasks/0a under root /drover: the kind of node, not the node. */
function kindOf(on: string, root: string | undefined): string {
  if (!root || root === '/' || !(on === root || on.startsWith(`${root}/`))) return on;
  const below = on.slice(root.length + 1).split('/')[0];
  return below ? `${root}/${below}` : root;
}

/**
 * A NoAuthError worded for people; `identity` as acl.ts identityText gives it; `root` (the root
 * holding the node, if known) names the kind of node in its `refusal`.
 */
export function permissionDenied(err: ZkError, identity: string, root?: string): NoAuthError {
  // A multi's error names its refused op as `multi[i] create` (requests.ts commitMulti).
  const m = /^multi\[(\d+)\] (\w+)$/.exec(err.op ?? '');
  const op = m ? m[2]! : (err.op ?? 'request');
  const path = err.path ?? '?';
  const { perm, on } = needs(op, path);
  const what = m ? `${op} ${path} (op ${m[1]} of a multi)` : `${op} ${path}`;
  const e = new NoAuthError('NO_AUTH', `permission denied: ${what} needs ${perm} on ${on} (this client: ${identity}; check --zk-auth)`, {
    op: err.op,
    path: err.path,
    opIndex: err.opIndex,
    cause: err,
  });
  e.refusal = `${perm} on ${kindOf(on, root)} for ${identity}`;
  return e;
}
