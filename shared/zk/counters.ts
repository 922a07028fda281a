// Process-wide request counters (for the benchmark): every request any library client of this
// process puts on the wire, counted as the library sends it (client-hooks.ts).
//
// - requests: packets sent, pings excepted (keep-alives, not work: they are in byKind.ping);
//   the connect handshake is counted (byKind.connect);
// - ops: operations, a multi or multiRead counting the operations inside it, any other request 1;
// - reads / writes: read operations (getData, exists, getChildren, multiRead items) and write
//   operations (create, delete, setData, each operation of a multi, check included);
// - byKind: requests by kind (multi, multiRead, getData, addWatch, setWatches, ping, ...).

export const zkCounters: { requests: number; ops: number; reads: number; writes: number; byKind: Record<string, number> } = {
  requests: 0,
  ops: 0,
  reads: 0,
  writes: 0,
  byKind: {},
};

const KINDS: Record<number, string> = {
  1: 'create',
  2: 'delete',
  3: 'exists',
  4: 'getData',
  5: 'setData',
  6: 'getACL',
  7: 'setACL',
  8: 'getChildren',
  9: 'sync',
  11: 'ping',
  12: 'getChildren2',
  14: 'multi',
  18: 'removeWatches',
  22: 'multiRead',
  100: 'auth',
  101: 'setWatches',
  106: 'addWatch',
  [-11]: 'closeSession',
};
const READS = new Set([3, 4, 6, 8, 12, 22]);
const WRITES = new Set([1, 2, 5, 7, 14]);

/** Counts one request of wire opcode `type` holding `ops` operations (multi, multiRead). */
export function countRequest(type: number | 'connect', ops = 1): void {
  const kind = type === 'connect' ? 'connect' : (KINDS[type] ?? `op${type}`);
  zkCounters.byKind[kind] = (zkCounters.byKind[kind] ?? 0) + 1;
  if (kind === 'ping') return;
  zkCounters.requests += 1;
  zkCounters.ops += ops;
  if (typeof type !== 'number') return;
  if (READS.has(type)) zkCounters.reads += ops;
  else if (WRITES.has(type)) zkCounters.writes += ops;
}

/** Sets every counter back to zero (a benchmark's phases). */
export function resetZkCounters(): void {
  zkCounters.requests = 0;
  zkCounters.ops = 0;
  zkCounters.reads = 0;
  zkCounters.writes = 0;
  for (const k of Object.keys(zkCounters.byKind)) delete zkCounters.byKind[k];
}
