// --million: a million queued. Per run: kill -9 of the leader, one worker × 64 joins while
// nobody leads, the next leader's take-over (candidate gone → first assignment), then its
// dispatch rate over completions 1 000–51 000 after it (and 1 000–9 000, the first seconds),
// the queue kept at its size by a feeder; the same with 10 000 queued on another root of
// the same server; the ratio of the two rates. The
// leaders' RSS is sampled from /proc (no request). Then the million drains, and zkCli.sh
// lists a directory of each kind.
import path from 'node:path';
import type { ZkSizeName } from '../../shared/zk-server/sizing.js';
import { Backlog } from './backlog.js';
import { BenchCluster } from './cluster.js';
import { takeoverRun } from './failover.js';
import { memoryMb } from './procs.js';
import type { BenchZk } from './server.js';
import { fmt, type Report } from './stats.js';
import { lsCheck, largestListing, type LsCheck } from './zkcli.js';
import { ZkProbe, now } from './zk-probe.js';

export interface MillionOptions {
  zk: BenchZk;
  report: Report;
  logDir: string;
  runs: number;
  total: number;
  small: number;
  drain: boolean;
  sessionTimeoutMs: number;
  say: (m: string) => void;
}

export const MILLION_SIZING: ZkSizeName = 'million';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SHORT: [number, number] = [1000, 9000];
const LONG: [number, number] = [1000, 51_000];

/** Completions/s over each window [from, to] (counted from now). */
function windowRates(c: BenchCluster, windows: [number, number][], timeoutMs: number): Promise<number[]> {
  const marks = new Map<number, number>();
  for (const [a, b] of windows) marks.set(a, 0).set(b, 0);
  const last = Math.max(...windows.map((w) => w[1]));
  let k = 0;
  const off = c.onDone((_id, t) => {
    k++;
    if (marks.has(k)) marks.set(k, t);
  });
  return c
    .until(() => k >= last && windows.map(([a, b]) => ((b - a) * 1000) / (marks.get(b)! - marks.get(a)!)), timeoutMs, `${last} completions`)
    .finally(off);
}

/** Max RSS (MiB) of each master of `c`, sampled every 250 ms from /proc. */
function rssSampler(c: BenchCluster): { max: Map<number, number>; stop: () => void } {
  const max = new Map<number, number>();
  const timer = setInterval(() => {
    for (const m of c.masters) if (m.alive) max.set(m.pid, Math.max(max.get(m.pid) ?? 0, memoryMb(m.pid).rss || 0));
  }, 250);
  return { max, stop: () => clearInterval(timer) };
}

async function dispatchRuns(o: MillionOptions, c: BenchCluster, backlog: Backlog, q: number, tag: string, windows: [number, number][], during?: () => Promise<void>) {
  const sampler = rssSampler(c);
  const out: Array<{ takeoverMs: number; rates: number[]; rssMb: number }> = [];
  try {
    for (let r = 1; r <= o.runs; r++) {
      let rates: number[] = [];
      let leaderPid = 0;
      const res = await takeoverRun(c, `${tag}${r}`, {
        queued: () => backlog.queued(),
        topUp: () => backlog.fill(q).then(() => undefined),
        rssMb: (pid) => ((leaderPid = pid), memoryMb(pid).rss),
        workerIds: [`${tag}${r}w`],
        concurrency: 64,
        whileLive: async () => {
          // A feeder keeps the queue at q (refilled 2 000 below it), so both queue sizes
          // are measured as they are named, and both under the same submit load.
          let feeding = true;
          const feeder = (async () => {
            while (feeding) {
              if (backlog.queued() < q - 2000) await backlog.fill(q);
              else await sleep(20);
            }
          })();
          feeder.catch(() => undefined); // awaited below
          try {
            rates = await windowRates(c, windows, 30 * 60_000);
          } finally {
            feeding = false;
            await feeder;
          }
          // After the windows, so the CLI's JVMs do not weigh on a measured rate.
          if (r === 1 && during) await during();
        },
      });
      const rssMb = Math.max(res.leaderRssMb, sampler.max.get(leaderPid) ?? 0);
      out.push({ takeoverMs: res.takeoverMs, rates, rssMb });
      o.say(`${tag} run ${r}: ${fmt(res.queued)} queued, take-over ${fmt(res.takeoverMs)} ms, ${rates.map((x) => fmt(x)).join(' / ')} tasks/s, leader RSS ${fmt(rssMb)} MB`);
    }
  } finally {
    sampler.stop();
  }
  return out;
}

function printLs(o: MillionOptions, checks: LsCheck[]): void {
  for (const ch of checks) {
    const cli = ch.cliCount === null ? `zkCli.sh FAILED: ${ch.error}` : `zkCli.sh ls: ${fmt(ch.cliCount)} children`;
    const size = ch.replyBytes < 10_240 ? `${fmt(ch.replyBytes)} B` : `${fmt(ch.replyBytes / 1024)} KiB`;
    o.report.note(`zkCli.sh ls ${ch.kind} (${ch.path.split('/').slice(-2).join('/')})`, `${cli}; own listing ${fmt(ch.count)}, reply ${size}`);
  }
}

export async function millionSection(o: MillionOptions): Promise<{ dispatchRatio: number; masterRssMb: number }> {
  const { report, zk } = o;
  const stamp = Date.now().toString(36);
  const big = await BenchCluster.create({ zk, root: `/bench-1m-${stamp}`, sessionTimeoutMs: o.sessionTimeoutMs, logDir: path.join(o.logDir, '1m') });
  const probe = await ZkProbe.open(zk.connectString);
  let small: BenchCluster | undefined;
  try {
    await big.flow();
    await big.startMaster('g1', 'leading');
    await big.startMaster('g2', 'following');
    const backlog = new Backlog(big, 'm');
    o.say(`submitting ${fmt(o.total)} tasks (no worker yet)…`);
    const submitRate = await backlog.fill(o.total, (n) => o.say(`  ${fmt(n)} submitted`));
    report.add(`submit ${fmt(o.total)} tasks, submitMany of 5 000, no worker`, 'tasks/s', [submitRate]);
    report.note(`ZooKeeper with ${fmt(o.total)} queued`, `${fmt(zk.rssMb())} MB RSS (${zk.sizing}), ${fmt((await zk.mntr())?.zk_znode_count ?? NaN)} znodes`);

    const shards = big.paths.shardNames;
    const tasksBig = await largestListing(probe, shards.map((s) => big.paths.taskShard(s)));
    const queueBig = await largestListing(probe, shards.map((s) => `${big.paths.queue}/${s}`));
    printLs(o, [
      await lsCheck(probe, zk.connectString, 'tasks shard, largest', tasksBig.path),
      await lsCheck(probe, zk.connectString, 'queue shard, largest', queueBig.path),
    ]);

    // The same measurement with 10 000 queued, on the same server (with the million in it).
    small = await BenchCluster.create({ zk, root: `/bench-10k-${stamp}`, sessionTimeoutMs: o.sessionTimeoutMs, logDir: path.join(o.logDir, '10k') });
    await small.flow();
    await small.startMaster('s1', 'leading');
    await small.startMaster('s2', 'following');
    const smallRuns = await dispatchRuns(o, small, new Backlog(small, 's'), o.small, 'k', [SHORT, LONG]);
    await small.stop();
    small = undefined;

    const bigRuns = await dispatchRuns(o, big, backlog, o.total, 'g', [SHORT, LONG], async () => {
      // While one worker holds tasks: the membership and assignment directories, live.
      const member = [...big.members][0]!;
      printLs(o, [
        await lsCheck(probe, zk.connectString, 'workers', big.paths.workers),
        await lsCheck(probe, zk.connectString, 'assign', big.paths.assign),
        await lsCheck(probe, zk.connectString, "assign, a worker's", big.paths.assignDir(member)),
      ]);
    });

    report.add(`take-over, ${fmt(o.small)} queued: candidate gone → first assignment`, 'ms', smallRuns.map((r) => r.takeoverMs));
    report.add(`take-over, ${fmt(o.total)} queued: candidate gone → first assignment`, 'ms', bigRuns.map((r) => r.takeoverMs));
    const w = (x: [number, number]) => `completions ${fmt(x[0])}–${fmt(x[1])}`;
    report.add(`dispatch, ${fmt(o.small)} queued, 1 worker × 64, ${w(SHORT)}`, 'tasks/s', smallRuns.map((r) => r.rates[0]!));
    report.add(`dispatch, ${fmt(o.total)} queued, 1 worker × 64, ${w(SHORT)}`, 'tasks/s', bigRuns.map((r) => r.rates[0]!));
    const rSmall = report.add(`dispatch, ${fmt(o.small)} queued, 1 worker × 64, ${w(LONG)}`, 'tasks/s', smallRuns.map((r) => r.rates[1]!));
    const rBig = report.add(`dispatch, ${fmt(o.total)} queued, 1 worker × 64, ${w(LONG)}`, 'tasks/s', bigRuns.map((r) => r.rates[1]!));
    const dispatchRatio = rBig / rSmall;
    report.note(`dispatch_ratio_1m_vs_10k (of the medians, ${w(LONG)})`, fmt(dispatchRatio, 2));
    const masterRssMb = report.add(`master_rss_mb_1m: next leader's max RSS in its run, ${fmt(o.total)} queued`, 'MB', bigRuns.map((r) => r.rssMb));
    report.add(`the same, ${fmt(o.small)} queued`, 'MB', smallRuns.map((r) => r.rssMb));

    if (o.drain) {
      const left = backlog.queued();
      o.say(`draining the ${fmt(left)} still queued (2 workers × 64)…`);
      const t0 = now();
      await big.startWorkers('drain', ['drain1', 'drain2'], 64);
      const ticker = setInterval(() => o.say(`  ${fmt(backlog.queued())} queued, ${fmt(big.doneCount)} finished`), 30_000);
      try {
        await big.until(() => backlog.queued() === 0, 3 * 3600_000, () => `the million drained (${backlog.queued()} still queued)`);
      } finally {
        clearInterval(ticker);
      }
      const s = (now() - t0) / 1000;
      report.note(`drain ${fmt(left)} (2 workers × 64)`, `all ${fmt(backlog.submitted)} finished: ${fmt(s)} s, ${fmt(left / s)} tasks/s`);
      // Assert it drained: every shard listed, nothing queued, one done entry and one record per task.
      const count = async (dir: string) => {
        let n = 0;
        for (const sh of shards) n += (await probe.children(`${dir}/${sh}`)).names.length;
        return n;
      };
      const audit = { queued: await count(big.paths.queue), done: await count(big.paths.done), records: await count(big.paths.tasks) };
      if (audit.queued !== 0 || audit.done !== backlog.submitted || audit.records !== backlog.submitted) {
        throw new Error(`bench: the million did not drain cleanly: ${JSON.stringify(audit)} for ${backlog.submitted} submitted`);
      }
      report.note('after the drain, every shard listed', `${fmt(audit.records)} records, ${fmt(audit.done)} done entries, 0 queued: all finished`);
      const doneBig = await largestListing(probe, shards.map((sh) => `${big.paths.done}/${sh}`));
      printLs(o, [
        await lsCheck(probe, zk.connectString, 'done shard, largest', doneBig.path),
        await lsCheck(probe, zk.connectString, 'tasks shard, largest', tasksBig.path),
      ]);
      report.note('ZooKeeper after the drain', `${fmt(zk.rssMb())} MB RSS, ${fmt((await zk.mntr())?.zk_znode_count ?? NaN)} znodes`);
    }
    // Last, as the full collection pauses the server: is the heap the right size? (The
    // pause monitor's figure is read first: the forced collection would dominate it.)
    const before = await zk.mntr();
    report.note('ZooKeeper JVM pauses (GC or CPU starvation) until now', `max ${fmt(before?.zk_max_jvm_pause_time_ms ?? NaN)} ms, p99 ${fmt(before?.zk_p99_jvm_pause_time_ms ?? NaN)} ms`);
    const znodes = before?.zk_znode_count ?? NaN;
    report.note('ZooKeeper heap in use after a full GC (jcmd), at the end', `${fmt(zk.liveHeapMb())} MB for ${fmt(znodes)} znodes (${zk.sizing})`);
    return { dispatchRatio, masterRssMb };
  } finally {
    await small?.stop();
    await big.stop();
    await probe.close();
  }
}

