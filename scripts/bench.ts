// `npm run bench [-- --json] [--million [--no-drain]] [--workers 500] [--runs 3] [--only …]`: drover's
// figures, measured honestly, on a ZooKeeper started for the run (sized for it:
// shared/zk-server/sizing.ts). Masters and workers are separate processes
// (scripts/bench/*-entry.ts, built from the library); the submitter is this process.
// Nothing polls ZooKeeper while a figure is measured: outcomes, assignments and leader
// changes are seen through persistent recursive watches of the bench's own observer
// (scripts/bench/zk-probe.ts), which costs one request per watch and then none.
//
// Definitions (each figure is the median of --runs runs, ≥ 3, printed with min–max):
//   zk_creates_per_s   raw pipelined creates (20 000 of 200 bytes, 500 in flight) with
//                      node-zookeeper-client against the same server, after a JVM warm-up
//                      (5 s of creates and deletes, not measured).
//   tasks_per_s        5 000 echo tasks submitted with submitMany; 1 leader + 1 follower
//                      master, 2 workers × 64; first submit → last outcome seen.
//   ratio              tasks_per_s / zk_creates_per_s.
//   requests_per_task  all processes' requests in the run (zkCounters of masters, workers and
//                      the submitting client) / tasks; ops_per_task the same for operations
//                      (a multi of k operations counts k). The server's own count
//                      (zk_packets_received less the observer's packets and our mntr; pings
//                      included, their bound printed) is shown beside it.
//   start_p50_ms/p99   one task at a time on the idle cluster, submit → handler start (the
//                      handler prints Date.now(); same machine clock), 200 samples a run.
//   failover_ms        tasks flowing, kill -9 of the leader → the first assignment created
//                      after its candidate node went (so by the next leader); with
//                      session_timeout_ms, the failure detector. handover_ms: after SIGTERM.
//   takeover_100k_ms   100 000 queued, no worker with a slot; kill -9 of the leader; 2 workers
//                      × 64 join while nobody leads; the old candidate's deletion (the next
//                      leader wins then) → the first assignment node.
//   --million          dispatch_ratio_1m_vs_10k: completions/s (1 worker × 64, completions
//                      1 000–51 000 after the next leader's first assignment) with 1 000 000
//                      queued / the same with 10 000 queued (each kept at its size by a
//                      feeder, so both bear the same submit load); master_rss_mb_1m: that leader's
//                      max VmRSS during its run; then the drain, and zkCli.sh ls of a tasks,
//                      queue and done shard, workers and assign, with child counts and sizes.
//   --workers N        N worker sessions, 100 a process; kill -9 of a process and its
//                      replacement while tasks flow: rates before/during/after.
// With --json the last line is one JSON object with exactly the keys of JSON_KEYS
// (scripts/bench/definitions.ts): numbers, null for what did not run.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildren, logDir as makeLogDir } from './bench/procs.js';
import { runBench, SECTIONS, type BenchArgs } from './bench/run.js';

function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = { json: false, million: false, drain: true, workers: 0, runs: 3, tasks: 5000, queue: 100_000, millionTasks: 1_000_000, only: new Set(SECTIONS) };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`bench: ${k} needs a positive integer, got ${argv[i]}`);
      return v;
    };
    if (k === '--json') a.json = true;
    else if (k === '--million') a.million = true;
    else if (k === '--no-drain') a.drain = false;
    else if (k === '--workers') a.workers = num();
    else if (k === '--runs') a.runs = num();
    else if (k === '--tasks') a.tasks = num();
    else if (k === '--queue') a.queue = num();
    else if (k === '--million-tasks') a.millionTasks = num(); // a smaller "million", to try the section
    else if (k === '--only') {
      const names = (argv[++i] ?? '').split(',').filter(Boolean);
      const bad = names.filter((n) => !(SECTIONS as readonly string[]).includes(n));
      if (bad.length) throw new Error(`bench: --only takes ${SECTIONS.join(',')} (or none: '' with --million/--workers), got ${bad.join(',')}`);
      a.only = new Set(names);
    } else throw new Error(`bench: unknown argument ${k} (--json, --million, --no-drain, --workers N, --runs N, --tasks N, --queue N, --million-tasks N, --only ${SECTIONS.join(',')})`);
  }
  if (a.runs < 3) console.warn(`bench: --runs ${a.runs}: fewer than 3 runs gives no honest spread`);
  return a;
}

for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(sig, () => {
    console.error(`bench: ${sig}: killing every process it started`);
    killAllChildren();
    process.exit(code); // the 'exit' hooks kill the ZooKeeper JVM too
  });
}

let args: BenchArgs;
try {
  args = parseArgs(process.argv.slice(2));
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}
// dist/scripts/bench.js → the checkout's .drover/bench/<time>/ (children's stderr).
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
runBench(args, makeLogDir(path.join(ROOT, '.drover', 'bench'))).then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${err instanceof Error ? err.message : String(err)}`);
    killAllChildren();
    process.exit(1);
  },
);
