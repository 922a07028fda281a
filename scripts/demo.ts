// `npm run demo`: a local drover cluster on an embedded ZooKeeper. Two masters and three
// workers as real `drover` processes, a stream of sample tasks, a kill -9 of the leader and of
// a worker midway, and a summary showing every task finished exactly once. Each master serves
// the dashboard; `npm run demo -- --keep` leaves the cluster running afterwards to look at it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DroverClient } from '../client/drover-client.js';
import { freePorts } from '../shared/zk-server/free-port.js';
import { guardChild, provideZooKeeper } from '../shared/zk-server/launcher.js';
import { isTerminal } from '../shared/protocol/task-state.js';
import type { TaskRecord } from '../shared/protocol/task-record.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'drover.js');
const LOGS = join(ROOT, '.drover', 'demo');
const TASKS = Number(process.env.DEMO_TASKS ?? 60);
const SESSION_MS = 3000;
const KEEP = process.argv.includes('--keep');

const say = (m: string) => console.log(`[demo] ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Proc {
  name: string;
  child: ChildProcess;
  alive: boolean;
}

async function main(): Promise<number> {
  mkdirSync(LOGS, { recursive: true });
  say('finding a ZooKeeper (DROVER_ZK, else Docker, else a local install)…');
  // 'demo': 60 tasks need the test size's 256 MB (shared/zk-server/sizing.ts).
  const zk = await provideZooKeeper({ tickTimeMs: 500, sizing: 'demo' });
  say(`ZooKeeper (${zk.kind}) at ${zk.connectString}`);
  const root = `/drover-demo-${Date.now().toString(36)}`;
  const procs: Proc[] = [];
  const start = (name: string, args: string[]): Proc => {
    const out = openSync(join(LOGS, `${name}.log`), 'w');
    const child = spawn(process.execPath, [BIN, ...args, '--zk', zk.connectString, '--root', root, '--session-timeout', String(SESSION_MS)], {
      stdio: ['ignore', out, out],
    });
    const p: Proc = { name, child, alive: true };
    if (child.pid !== undefined) guardChild(child.pid); // follows us if we are killed outright
    child.once('exit', () => (p.alive = false));
    procs.push(p);
    return p;
  };
  const stopAll = async () => {
    for (const p of procs) if (p.alive) p.child.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (procs.some((p) => p.alive) && Date.now() < deadline) await sleep(50);
    for (const p of procs) if (p.alive) p.child.kill('SIGKILL');
    await zk.stop();
  };
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(sig, () => void stopAll().then(() => process.exit(code)));
  }

  try {
    const ports = await freePorts(2);
    const masters = ['m1', 'm2'].map((id, i) => start(id, ['master', '--id', id, '--http', String(ports[i])]));
    const workers = ['w1', 'w2', 'w3'].map((id) => start(id, ['worker', '--id', id, '--concurrency', '3']));
    say(`started masters m1, m2 and workers w1, w2, w3 (logs in ${LOGS})`);
    say(`dashboard: http://127.0.0.1:${ports[0]}/ (m1) and http://127.0.0.1:${ports[1]}/ (m2): either shows the whole cluster`);
    const client = await DroverClient.connect({ connectString: zk.connectString, root });
    const leaderOf = async () => (await client.leader())?.id;
    let leader: string | undefined;
    for (let i = 0; i < 100 && !leader; i++) {
      leader = await leaderOf().catch(() => undefined);
      if (!leader) await sleep(100);
    }
    say(`leader: ${leader}`);

    say(`submitting ${TASKS} tasks (sleep 200–600 ms, echo), a few at a time…`);
    const ids: string[] = [];
    const counts = () => Promise.all(ids.map((id) => client.get(id)));
    let killedLeader = false;
    let killedWorker = false;
    const t0 = Date.now();
    for (let i = 0; i < TASKS; i++) {
      const input =
        i % 3 === 0
          ? { type: 'echo', id: `demo-${i}`, payload: { n: i } }
          : { type: 'sleep', id: `demo-${i}`, payload: { ms: 200 + ((i * 37) % 400) }, timeoutMs: 10_000 };
      ids.push((await client.submit(input)).id);
      await sleep(40);
      if (i === Math.floor(TASKS / 3) && !killedLeader) {
        const victim = masters.find((m) => m.name === leader)!;
        const at = Date.now();
        victim.child.kill('SIGKILL');
        killedLeader = true;
        say(`kill -9 of the leader ${victim.name} (pid ${victim.child.pid})`);
        void (async () => {
          for (;;) {
            const l = await leaderOf().catch(() => undefined);
            if (l && l !== victim.name) return say(`new leader: ${l} after ${((Date.now() - at) / 1000).toFixed(1)} s`);
            await sleep(100);
          }
        })();
      }
      if (i === Math.floor((2 * TASKS) / 3) && !killedWorker) {
        const victim = workers[1]!;
        victim.child.kill('SIGKILL');
        killedWorker = true;
        say(`kill -9 of worker ${victim.name} (pid ${victim.child.pid}) while it runs tasks`);
      }
    }
    say('all submitted; waiting for every task to finish…');
    let recs: Array<TaskRecord | null> = [];
    for (let last = -1; ; ) {
      recs = await counts();
      const done = recs.filter((r) => r && isTerminal(r.state)).length;
      if (done !== last && done % 10 === 0) say(`${done}/${TASKS} finished`);
      last = done;
      if (done === TASKS) break;
      if (Date.now() - t0 > 120_000) throw new Error('tasks did not finish within 2 minutes');
      await sleep(250);
    }
    const byState = new Map<string, number>();
    for (const r of recs) byState.set(r!.state, (byState.get(r!.state) ?? 0) + 1);
    const retried = recs.filter((r) => r!.attempt > 1);
    const status = await client.status();
    say('summary');
    console.log(`  tasks submitted:        ${TASKS}`);
    for (const [s, n] of byState) console.log(`  ${(s + ':').padEnd(23)} ${n}`);
    console.log(`  lost:                   ${TASKS - recs.filter(Boolean).length}`);
    console.log(`  re-run after the kills: ${retried.length} (${retried.map((r) => r!.id).join(', ') || 'none'})`);
    console.log(`  outcomes committed:     ${status.finished} (one per task: each commit removed its assignment in the same multi)`);
    console.log(`  leader now:             ${status.leader?.id}; workers alive: ${status.workers.map((w) => w.id).join(', ')}`);
    console.log(`  elapsed:                ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await client.close();
    const ok = byState.get('succeeded') === TASKS && status.finished === TASKS;
    say(ok ? 'every task finished exactly once' : 'SOMETHING IS WRONG: see the counts above');
    if (KEEP) {
      const live = masters.filter((m) => m.alive).map((m) => `http://127.0.0.1:${ports[masters.indexOf(m)]}/`);
      say(`--keep: the cluster runs on; dashboard at ${live.join(' and ')}; ZooKeeper at ${zk.connectString}, root ${root}. Ctrl-C stops it.`);
      await new Promise(() => {}); // until a signal: the handlers above stop everything
    }
    return ok ? 0 : 1;
  } finally {
    await stopAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`[demo] ${(err as Error).message}`);
    process.exit(1);
  },
);
