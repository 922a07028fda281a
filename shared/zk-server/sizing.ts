// How big a ZooKeeper JVM we start: named sizes for what each caller keeps in it. ZooKeeper
// holds the whole tree in its heap (about 1 KB a znode with drover's records, the index
// entries included), so the heap follows the znodes a run creates:
//   test     drover/testing and a test's own servers: thousands of znodes. 256 MB, serial GC.
//   suite    the one server `npm test` shares across every test file: each test keeps its own
//            root, and together they leave a few hundred thousand znodes (and 100 000-watch
//            tests) on it. 1 GB, serial GC: at 256 MB it ran out of heap late in the suite
//            and exited (ExitOnOutOfMemoryError), failing every test after it.
//   demo     `npm run demo`: 60 tasks. The test size.
//   bench    `npm run bench`: 100 000 queued for the take-over figure (~300 000 znodes)
//            beside the other runs' tasks. 1 GB, serial GC.
//   million  `npm run bench -- --million`: 1 000 000 tasks are ~3 000 000 znodes (record,
//            queue entry, then done entry). 4 GB with G1: a serial collection of a 3 GB old
//            generation pauses the server for seconds, longer than the sessions it serves.
// Every size keeps ZooKeeper's default jute.maxbuffer (1 MiB): drover sizes its requests
// against it, and a bigger buffer would hide a request that real servers refuse.

export type GcKind = 'serial' | 'g1';

export interface ZkSizing {
  /** -Xmx, in MiB. */
  heapMb: number;
  gc: GcKind;
}

export const ZK_SIZES = {
  test: { heapMb: 256, gc: 'serial' },
  suite: { heapMb: 1024, gc: 'serial' },
  demo: { heapMb: 256, gc: 'serial' },
  bench: { heapMb: 1024, gc: 'serial' },
  million: { heapMb: 4096, gc: 'g1' },
} as const satisfies Record<string, ZkSizing>;

export type ZkSizeName = keyof typeof ZK_SIZES;

const GC_FLAGS: Record<GcKind, string[]> = {
  serial: ['-XX:+UseSerialGC'],
  // Pause goal well under a tick (200 ms in our servers), so a collection never looks like a
  // dead server to its sessions.
  g1: ['-XX:+UseG1GC', '-XX:MaxGCPauseMillis=50'],
};

/** A size by name, or as given; throws on a heap that a JVM would not take. */
export function resolveSizing(size: ZkSizing | ZkSizeName): ZkSizing {
  const s: ZkSizing = typeof size === 'string' ? ZK_SIZES[size] : size;
  if (!s || !Number.isInteger(s.heapMb) || s.heapMb < 32) {
    throw new Error(`ZooKeeper size: heapMb must be an integer ≥ 32, got ${JSON.stringify(size)}`);
  }
  if (!(s.gc in GC_FLAGS)) throw new Error(`ZooKeeper size: gc must be ${Object.keys(GC_FLAGS).join(' or ')}, got ${s.gc}`);
  return s;
}

// C1-only JIT (-XX:TieredStopAtLevel=1) was measured here: start ≈ 290 vs ≈ 320 ms, within
// noise, so it is left out rather than slow the server in benchmarks.
// -XX:-UsePerfData: no /tmp/hsperfdata files.
const COMMON_FLAGS = [
  '-XX:-UsePerfData',
  '-XX:+ExitOnOutOfMemoryError',
  '-Djava.net.preferIPv4Stack=true',
  '-Dorg.slf4j.simpleLogger.showDateTime=true',
  '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
];

/** The JVM flags of a size: a small initial heap (grown as needed), the maximum, the collector. */
export function jvmArgsFor(size: ZkSizing | ZkSizeName): string[] {
  const s = resolveSizing(size);
  return [`-Xms${Math.min(32, s.heapMb)}m`, `-Xmx${s.heapMb}m`, ...GC_FLAGS[s.gc], ...COMMON_FLAGS];
}

/** The same, as the Docker image's JVMFLAGS (the zookeeper:3.8 image passes it to java). */
export function dockerJvmFlags(size: ZkSizing | ZkSizeName): string {
  const s = resolveSizing(size);
  return [`-Xmx${s.heapMb}m`, ...GC_FLAGS[s.gc]].join(' ');
}
