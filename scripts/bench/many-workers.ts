// --workers N: N worker sessions in N/100 processes (100 each, 2 slots each) join one
// cluster while a feeder keeps a few thousand echo tasks queued; then, per cycle, kill -9 of
// one process (100 workers at once) and a replacement with the same names (new
// incarnations). Rates are completions/s seen by the observer; the leader's requests/s
// come from its own counters (SIGUSR2): churn that made it re-read everything would show.
import path from 'node:path';
import { Backlog } from './backlog.js';
import { BenchCluster } from './cluster.js';
import type { Child } from './procs.js';
import type { BenchZk } from './server.js';
import { fmt, type Report } from './stats.js';
import { now } from './zk-probe.js';

export interface ManyWorkersOptions {
  zk: BenchZk;
  report: Report;
  logDir: string;
  workers: number;
  perProcess: number;
  concurrency: number;
  cycles: number;
  phaseMs: number;
  sessionTimeoutMs: number;
  say: (m: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Phase {
  rate: number;
  leaderReqPerS: number;
}

export async function manyWorkersSection(o: ManyWorkersOptions): Promise<void> {
  const c = await BenchCluster.create({ zk: o.zk, root: `/bench-w-${Date.now().toString(36)}`, sessionTimeoutMs: o.sessionTimeoutMs, logDir: path.join(o.logDir, 'workers') });
  let feeding = true;
  let feeder: Promise<void> = Promise.resolve();
  try {
    await c.flow();
    await c.startMaster('c1', 'leading');
    await c.startMaster('c2', 'following');
    const backlog = new Backlog(c, 'f');
    await backlog.fill(4000);
    feeder = (async () => {
      while (feeding) {
        if (backlog.queued() < 3000) await backlog.fill(6000);
        else await sleep(50);
      }
    })();
    // A failed submit ends the feeder; the phases would then starve: say so at once.
    feeder.catch((e: Error) => o.say(`feeder stopped: ${e.message}`));

    // Live assignments per member, to know when a dead process's tasks are all taken back
    // (counted from before any worker exists, so every count is exact).
    const live = new Map<string, number>();
    c.onFlow((e) => {
      if (e.kind === 'assigned') live.set(e.member, (live.get(e.member) ?? 0) + 1);
      else if (e.kind === 'unassigned') live.set(e.member, (live.get(e.member) ?? 0) - 1);
    });

    const procs = Math.ceil(o.workers / o.perProcess);
    const idsOf = (p: number) => Array.from({ length: Math.min(o.perProcess, o.workers - p * o.perProcess) }, (_, i) => `p${p}w${i}`);
    const t0 = now();
    const held: Child[] = await Promise.all(Array.from({ length: procs }, (_, p) => c.startWorkers(`wp${p}`, idsOf(p), o.concurrency, 300_000)));
    await c.until(() => c.members.size >= o.workers, 120_000, () => `${o.workers} members registered (${c.members.size} so far)`);
    o.report.add(`${fmt(o.workers)} workers in ${procs} processes join (spawn → last member node)`, 'ms', [now() - t0]);

    const phase = async (ms: number | (() => Promise<void>)): Promise<Phase> => {
      const leader = c.leader();
      const c0 = await leader?.counters();
      const d0 = c.doneCount;
      const t = now();
      if (typeof ms === 'number') await sleep(ms);
      else await ms();
      const s = (now() - t) / 1000;
      const c1 = leader?.alive ? await leader.counters() : null;
      return { rate: (c.doneCount - d0) / s, leaderReqPerS: c0 && c1 ? (c1.requests - c0.requests) / s : NaN };
    };

    const before: Phase[] = [];
    const during: Phase[] = [];
    const after: Phase[] = [];
    const churnMs: number[] = [];
    const reclaimMs: number[] = [];
    const joinMs: number[] = [];
    for (let k = 0; k < o.cycles; k++) {
      before.push(await phase(o.phaseMs));
      const p = k % procs;
      const ids = new Set(idsOf(p));
      const isOurs = (member: string) => ids.has(member.slice(0, member.lastIndexOf('~')));
      const old = new Set([...c.members].filter(isOurs));
      const tk = now();
      during.push(
        await phase(async () => {
          const state = () => ({
            stillMember: [...old].filter((m) => c.members.has(m)).length,
            stillHeld: [...old].reduce((n, m) => n + (live.get(m) ?? 0), 0),
            replaced: [...c.members].filter((m) => isOurs(m) && !old.has(m)).length,
          });
          const explain = (e: Error) => {
            throw new Error(`${e.message}: ${JSON.stringify(state())}`);
          };
          await held[p]!.kill9();
          const reclaimed = c
            .until(() => state().stillMember === 0 && state().stillHeld === 0, 120_000, `the ${ids.size} killed workers gone and their tasks taken back`)
            .then(() => now() - tk, explain);
          reclaimed.catch(() => undefined); // awaited below
          const tr = now();
          held[p] = await c.startWorkers(`wp${p}r${k}`, [...ids], o.concurrency, 300_000);
          const joined = await c.until(() => state().replaced === ids.size, 120_000, `the ${ids.size} replacements registered`).then(() => now() - tr, explain);
          reclaimMs.push(await reclaimed);
          joinMs.push(joined);
        }),
      );
      churnMs.push(now() - tk);
      after.push(await phase(o.phaseMs));
      o.say(`churn ${k + 1}: ${fmt(before[k]!.rate)} → ${fmt(during[k]!.rate)} → ${fmt(after[k]!.rate)} tasks/s, window ${fmt(churnMs[k]!)} ms`);
    }
    const r = o.report;
    r.add(`rate before churn (${fmt(o.phaseMs / 1000)} s)`, 'tasks/s', before.map((x) => x.rate));
    r.add(`rate during churn: kill -9 of ${o.perProcess} workers → all replaced, tasks back`, 'tasks/s', during.map((x) => x.rate));
    r.add(`rate after churn (${fmt(o.phaseMs / 1000)} s)`, 'tasks/s', after.map((x) => x.rate));
    r.add(`churn window: kill -9 → both of the next two`, 'ms', churnMs);
    r.add(`  kill -9 → the ${o.perProcess} gone, their tasks back (timeout ${fmt(o.sessionTimeoutMs)} ms)`, 'ms', reclaimMs);
    r.add(`  replacement process: spawn → its ${o.perProcess} registered`, 'ms', joinMs);
    r.add('leader requests/s before churn', 'req/s', before.map((x) => x.leaderReqPerS));
    r.add('leader requests/s during churn', 'req/s', during.map((x) => x.leaderReqPerS));
    r.add('leader requests/s after churn', 'req/s', after.map((x) => x.leaderReqPerS));
  } finally {
    feeding = false;
    await feeder.catch(() => undefined);
    await c.stop();
  }
}
