// The ZooKeeper the bench measures against: started for the run (DROVER_ZK, Docker or the
// local install, as everywhere), sized for what the run keeps in it, with its own counters
// read through `mntr` (a four-letter word: one packet, counted so the bench can take it out).
import { spawnSync } from 'node:child_process';
import { fourLetter, provideZooKeeper, type ZkProvision } from '../../shared/zk-server/launcher.js';
import { ZK_SIZES, type ZkSizeName } from '../../shared/zk-server/sizing.js';
import { memoryMb } from './procs.js';

export interface BenchZk {
  readonly connectString: string;
  readonly host: string;
  readonly port: number;
  readonly kind: ZkProvision['kind'];
  readonly sizing: string;
  readonly tickTimeMs: number;
  /** The JVM's pid when we started it locally. */
  readonly pid: number | null;
  /** Four-letter words this bench sent (each is one packet in zk_packets_received). */
  mntrCalls: number;
  /** `mntr` as numbers; null when the server does not allow it. */
  mntr(): Promise<Record<string, number> | null>;
  /** RSS of the local JVM, MiB (NaN when not ours). */
  rssMb(): number;
  /**
   * The heap still in use after a full collection (jcmd GC.run, then GC.heap_info), MiB:
   * what the tree really takes, unlike RSS, which is whatever the JVM has touched. The
   * collection pauses the server: only when nothing measured depends on it. NaN without jcmd.
   */
  liveHeapMb(): number;
  stop(): Promise<void>;
}

export async function startBenchZk(opts: { sizing: ZkSizeName; tickTimeMs: number; log: (m: string) => void }): Promise<BenchZk> {
  const zk = await provideZooKeeper({
    tickTimeMs: opts.tickTimeMs,
    sizing: opts.sizing,
    log: opts.log,
    // JVM pauses (GC) show in mntr as zk_max_jvm_pause_time_ms: a stalled server is then seen, not guessed.
    extraConfig: { 'jvm.pause.monitor': true },
  });
  const first = zk.connectString.split(',')[0]!;
  const host = first.slice(0, first.lastIndexOf(':'));
  const port = Number(first.slice(first.lastIndexOf(':') + 1));
  const size = ZK_SIZES[opts.sizing];
  const b: BenchZk = {
    connectString: zk.connectString,
    host,
    port,
    kind: zk.kind,
    sizing: zk.kind === 'env' ? 'as run by its owner (DROVER_ZK)' : `${opts.sizing}: -Xmx${size.heapMb}m, ${size.gc} GC`,
    tickTimeMs: opts.tickTimeMs,
    pid: zk.server?.pid ?? null,
    mntrCalls: 0,
    async mntr() {
      b.mntrCalls++;
      const text = await fourLetter(host, port, 'mntr', 5000);
      if (!text || !text.includes('zk_packets_received')) return null;
      const out: Record<string, number> = {};
      for (const line of text.split('\n')) {
        const [k, v] = line.split('\t');
        if (k && v !== undefined && Number.isFinite(Number(v))) out[k] = Number(v);
      }
      return out;
    },
    rssMb: () => (zk.server ? memoryMb(zk.server.pid).rss : NaN),
    liveHeapMb: () => (zk.server ? liveHeapMb(zk.server.pid) : NaN),
    stop: () => zk.stop(),
  };
  return b;
}

function liveHeapMb(pid: number): number {
  const jcmd = (cmd: string) => spawnSync('jcmd', [String(pid), cmd], { encoding: 'utf8', timeout: 60_000 });
  if (jcmd('GC.run').status !== 0) return NaN;
  const info = jcmd('GC.heap_info');
  if (info.status !== 0) return NaN;
  // " garbage-first heap   total 34816K, used 6305K" (G1); "def new generation" + "tenured generation" (serial).
  let usedKb = 0;
  for (const m of info.stdout.matchAll(/^ (?!Metaspace)[a-z-]+(?: [a-z-]+)*\s+total \d+K, used (\d+)K/gm)) usedKb += Number(m[1]);
  return usedKb > 0 ? usedKb / 1024 : NaN;
}
