// `npm run bench`: drover's figures, printed as measured. Real processes (one master, two
// workers) on a local ZooKeeper started for the run; the submitter runs in this process.
//   1. end-to-end throughput of N echo tasks submitted in bulk
//   2. latency of one task, submit → outcome seen by the client, on an idle cluster
//   3. ZooKeeper requests per task (the server's own packet counter)
//   4. leader failover: kill -9 of the leader → first assignment by the next one
//   5. worker loss: kill -9 of a worker holding a task → the task assigned again
//   6. a big queue: Q queued tasks, submit rate, a new leader's rebuild time and memory
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DroverClient } from '../client/drover-client.js';
import { fourLetter, provideZooKeeper } from '../shared/zk-server/launcher.js';
import type { SubmitInput } from '../shared/protocol/task-record.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'drover.js');
const N = Number(process.env.BENCH_TASKS ?? 5000);
const Q = Number(process.env.BENCH_QUEUE ?? 50_000);
const SESSION_MS = 2000;

interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, unknown> & { msg: string; time: number }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
};
async function until<T>(fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`bench: ${what} did not happen within ${timeoutMs} ms`);
    await sleep(5);
  }
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main(): Promise<void> {
  const zk = await provideZooKeeper({ tickTimeMs: 200 });
  const [host, port] = zk.connectString.split(',')[0]!.split(':');
  const procs: Proc[] = [];
  const start = (root: string, args: string[]): Proc => {
    const child = spawn(process.execPath, [BIN, ...args, '--zk', zk.connectString, '--root', root, '--session-timeout', String(SESSION_MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, DROVER_LOG_LEVEL: 'debug' },
    });
    const p: Proc = { child, lines: [] };
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          p.lines.push(JSON.parse(line));
        } catch {
          /* not a log line */
        }
      }
    });
    procs.push(p);
    return p;
  };
  const received = async () => Number(/Received: (\d+)/.exec((await fourLetter(host!, Number(port), 'srvr')) ?? '')?.[1] ?? NaN);
  const rows: Array<[string, string]> = [];
  const row = (k: string, v: string) => {
    rows.push([k, v]);
    console.log(`  ${k.padEnd(52)} ${v}`);
  };
  console.log(`drover bench — ZooKeeper (${zk.kind}) ${zk.connectString}, node ${process.version}, session timeout ${SESSION_MS} ms`);
  try {
    // ---- 1–3: throughput, latency, ops per task ----
    const root = '/bench-' + Date.now().toString(36);
    // The first master leads; the second starts once it does, so the roles are known.
    const m1 = start(root, ['master', '--id', 'm1']);
    await until(() => m1.lines.find((l) => l.msg === 'elected leader'), 20_000, 'm1 leads');
    start(root, ['master', '--id', 'm2']);
    const w1 = start(root, ['worker', '--id', 'w1', '--concurrency', '64']);
    const w2 = start(root, ['worker', '--id', 'w2', '--concurrency', '64']);
    const client = await DroverClient.connect({ connectString: zk.connectString, root });
    await until(() => w1.lines.find((l) => l.msg === 'worker alive') && w2.lines.find((l) => l.msg === 'worker alive') && m1.lines.find((l) => l.msg === 'elected leader'), 20_000, 'cluster up');

    const inputs: SubmitInput[] = Array.from({ length: N }, (_, i) => ({ type: 'echo', id: `b${i}`, payload: { i } }));
    const r0 = await received();
    const t0 = Date.now();
    await client.submitMany(inputs);
    const tSubmitted = Date.now();
    await until(async () => (await client.status()).finished === N || undefined, 300_000, 'all tasks finished');
    const tDone = Date.now();
    const r1 = await received();
    row(`submit ${N} tasks (submitMany)`, `${Math.round(N / ((tSubmitted - t0) / 1000))} tasks/s`);
    row(`end-to-end: ${N} echo tasks, 2 workers × 64`, `${Math.round(N / ((tDone - t0) / 1000))} tasks/s (${((tDone - t0) / 1000).toFixed(1)} s)`);
    row('ZooKeeper requests per task (server count, all clients)', ((r1 - r0) / N).toFixed(1));

    const lat: number[] = [];
    for (let i = 0; i < 200; i++) {
      const a = Date.now();
      const { id } = await client.submit({ type: 'echo', payload: i });
      await client.wait(id);
      lat.push(Date.now() - a);
    }
    row('latency submit → outcome, idle cluster (200 tasks)', `p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms`);
    row('RSS after the run: leader / worker', `${rssMb(m1.child.pid!)} MB / ${rssMb(w1.child.pid!)} MB`);

    // ---- 4: leader failover → first assignment by the new leader ----
    await client.submitMany(Array.from({ length: 400 }, (_, i) => ({ type: 'sleep', id: `f${i}`, payload: { ms: 50 } })));
    await sleep(200);
    const leader = await client.leader();
    const victim = procs.find((p) => p.child.pid === leader?.pid)!;
    const next = procs.find((p) => p !== victim && p.lines.some((l) => l.msg === 'master following'))!;
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    const firstAssign = await until(() => next.lines.find((l) => l.msg === 'assigned' && l.time >= killedAt), 30_000, 'first assignment by the new leader');
    const elected = next.lines.find((l) => l.msg === 'elected leader' && l.time >= killedAt)!;
    row('leader kill -9 → new leader elected', `${elected.time - killedAt} ms`);
    row('leader kill -9 → first assignment by the new leader', `${firstAssign.time - killedAt} ms`);
    await until(async () => (await client.status()).queue.depth === 0 || undefined, 60_000, 'queue drained');

    // ---- 5: worker loss → reassignment ----
    const { id: held } = await client.submit({ type: 'sleep', id: 'held', payload: { ms: 60_000 } });
    const onWorker = await until(async () => {
      const t = await client.get(held);
      return t?.state === 'running' ? t : undefined;
    }, 10_000, 'task running');
    const holder = [w1, w2].find((w) => onWorker.worker!.startsWith(w === w1 ? 'w1~' : 'w2~'))!;
    const wKilledAt = Date.now();
    holder.child.kill('SIGKILL');
    await until(async () => ((await client.get(held))?.attempt ?? 0) >= 2 || undefined, 30_000, 'task reassigned');
    row('worker kill -9 → its task assigned again', `${Date.now() - wKilledAt} ms`);
    await client.close();
    for (const p of procs) p.child.kill('SIGKILL');
    procs.length = 0;

    // ---- 6: a big queue ----
    const bigRoot = '/bench-q-' + Date.now().toString(36);
    const bigClient = await DroverClient.connect({ connectString: zk.connectString, root: bigRoot });
    const q0 = Date.now();
    for (let i = 0; i < Q; i += 5000) {
      await bigClient.submitMany(Array.from({ length: Math.min(5000, Q - i) }, (_, k) => ({ type: 'echo', id: `q${i + k}`, payload: { n: i + k } })));
    }
    row(`submit ${Q} tasks into an idle queue`, `${Math.round(Q / ((Date.now() - q0) / 1000))} tasks/s`);
    const mq = start(bigRoot, ['master', '--id', 'mq']);
    const rebuilt = await until(() => mq.lines.find((l) => l.msg === 'leader picture rebuilt from ZooKeeper'), 120_000, 'rebuild');
    row(`new leader rebuilds its picture, ${Q} queued`, `${rebuilt.ms} ms; leader RSS ${rssMb(mq.child.pid!)} MB`);
    const st0 = Date.now();
    const st = await bigClient.status();
    row(`drover status with ${st.queue.depth} queued`, `${Date.now() - st0} ms`);
    await bigClient.close();
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    await zk.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`bench failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
