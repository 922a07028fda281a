// What each figure of `npm run bench` means, printed with every run (and stated in the header
// of scripts/bench.ts). Keys are those of the --json line.

export const JSON_KEYS = [
  'zk_creates_per_s',
  'tasks_per_s',
  'ratio',
  'requests_per_task',
  'ops_per_task',
  'start_p50_ms',
  'start_p99_ms',
  'failover_ms',
  'session_timeout_ms',
  'handover_ms',
  'takeover_100k_ms',
  'dispatch_ratio_1m_vs_10k',
  'master_rss_mb_1m',
] as const;

export type JsonKey = (typeof JSON_KEYS)[number];

export function definitions(o: { tasks: number; queue: number; runs: number; creates: number; inFlight: number; sessionTimeoutMs: number }): string[] {
  return [
    `Every figure: the median of ${o.runs} run(s), with min–max. Times are one clock (same machine); outcomes, assignments and`,
    'leader changes are seen through persistent recursive watches of the bench\'s own observer (one notification per event,',
    'no request: nothing polls ZooKeeper while a figure is measured).',
    `  zk_creates_per_s   ${o.creates} creates of 200 bytes, ${o.inFlight} in flight, node-zookeeper-client, same server, after a`,
    '                     JVM warm-up of creates/deletes (not measured).',
    `  tasks_per_s        ${o.tasks} echo tasks, submitMany, 1 leader + 1 follower master, 2 workers × 64, separate`,
    '                     processes; first submit → last outcome (done entry) seen. ratio = tasks_per_s / zk_creates_per_s.',
    '  requests_per_task  every process\'s requests (zkCounters: the masters\', workers\' and the submitting client\'s) over the',
    '                     run / tasks; ops_per_task the same for operations (a multi of k ops counts k). Beside it the server\'s',
    '                     own count (zk_packets_received less the observer\'s packets and the bench\'s mntr), which includes',
    '                     pings (bound printed).',
    '  start_p50/p99_ms   one task at a time, idle cluster: submit → handler start (the handler prints Date.now()), 200',
    '                     samples a run.',
    `  failover_ms        tasks flowing, kill -9 of the leader → first assignment by the next (session timeout`,
    `                     ${o.sessionTimeoutMs} ms: the failure detector). handover_ms: the same after SIGTERM.`,
    `  takeover_100k_ms   ${o.queue} queued, no worker; kill -9 of the leader; 2 workers × 64 join while nobody leads;`,
    '                     the old leader\'s candidate node deleted (the next one wins) → the first assignment node.',
    '  --million          1 000 000 queued (kept so by a feeder): dispatch rate (completions/s, 1 worker × 64, completions',
    '                     1 000–51 000 after the next leader\'s first assignment) / the same with 10 000 queued → dispatch_ratio_1m_vs_10k;',
    '                     master_rss_mb_1m: that leader\'s max VmRSS in its run; the drain; zkCli.sh ls of each kind.',
    '  --workers N        N worker sessions, 100 a process; kill -9 of a process and its replacement, rates before/during/after.',
  ];
}
