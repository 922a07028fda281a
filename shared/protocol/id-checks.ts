// Checks of the names a caller gives (task ids, worker ids, roots), before any path is built
// from them (paths.ts builds the paths and re-exports these).

const ID_RE = /^[A-Za-z0-9_.:-]{1,200}$/;
const WORKER_ID_RE = /^[A-Za-z0-9_.:-]{1,100}$/;

export class InvalidIdError extends Error {
  override name = 'InvalidIdError';
}

export function assertTaskId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_RE.test(id) || id === '.' || id === '..') {
    throw new InvalidIdError(`invalid task id ${JSON.stringify(id)}: use 1-200 characters of A-Z a-z 0-9 _ . : -`);
  }
}

export function assertWorkerId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !WORKER_ID_RE.test(id) || id === '.' || id === '..') {
    throw new InvalidIdError(`invalid worker id ${JSON.stringify(id)}: use 1-100 characters of A-Z a-z 0-9 _ . : -`);
  }
}

/**
 * A root is a ZooKeeper path: it starts with /, has no empty, . or .. segment (so no trailing
 * /) and no control characters. Checked here, before connecting, for every role and the CLI:
 * otherwise the server refuses it later, in its own words.
 */
export function assertRoot(root: unknown): asserts root is string {
  const ok =
    typeof root === 'string' &&
    (root === '/' ||
      (root.startsWith('/') && root.slice(1).split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..' && !/[\u0000-\u001f\u007f-\u009f]/.test(seg))));
  if (!ok) throw new InvalidIdError(`invalid root ${JSON.stringify(root)}: use a ZooKeeper path such as /drover (no empty, . or .. segments, no trailing /)`);
}

/** ZooKeeper's own tree (quotas, config): never a cluster root. */
export const isZooKeeperTree = (root: string): boolean => root === '/zookeeper' || root.startsWith('/zookeeper/');
