// Process faults: masters and workers killed (kill -9, or at a failpoint), drained (SIGTERM)
// or frozen (SIGSTOP past their session timeout), then restarted or resumed.
import type { Slot } from './cluster.js';
import { isStepDown, running, type FaultContext, type Injector } from './fault-kit.js';
import { readLogLines } from './logs.js';
import { sleep, until } from './util.js';

async function killAndRestart(ctx: FaultContext, slot: Slot, pauseMs: number): Promise<string> {
  slot.held = true;
  const pid = await ctx.cluster.kill9(slot);
  await sleep(pauseMs);
  slot.held = false;
  if (!slot.running) ctx.cluster.launch(slot);
  return `${slot.name} pid ${pid} killed, restarted after ${pauseMs} ms`;
}

export const killLeader: Injector = async (ctx) => {
  const leader = await ctx.cluster.waitLeader(15_000);
  if (!leader || leader.held || leader.cut) return { detail: 'no live leader to kill', note: 'skipped' };
  const oldPid = leader.pid;
  const detail = await killAndRestart(ctx, leader, ctx.rng.int(200, 1500));
  const next = await until(async () => {
    const s = await ctx.cluster.leaderSlot();
    return s && s.pid !== oldPid ? s : null;
  }, 5 * ctx.sessionTimeoutMs);
  return { detail: `${detail}; next leader ${next?.name ?? 'none yet'}`, verified: next !== null };
};

export const killFollowerMaster: Injector = async (ctx) => {
  const leader = await ctx.cluster.waitLeader(15_000);
  const followers = running(ctx.cluster.masters()).filter((s) => s !== leader);
  if (followers.length === 0) return { detail: 'no follower to kill', note: 'skipped' };
  return { detail: await killAndRestart(ctx, ctx.rng.pick(followers), ctx.rng.int(200, 2000)) };
};

export const killWorker: Injector = async (ctx) => {
  const ws = running(ctx.cluster.workers());
  if (ws.length === 0) return { detail: 'no worker to kill', note: 'skipped' };
  return { detail: await killAndRestart(ctx, ctx.rng.pick(ws), ctx.rng.int(200, 2000)) };
};

export const leaderFailpoints: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const leader = await cluster.waitLeader(15_000);
  if (!leader || leader.held || leader.cut) return { detail: 'no live leader', note: 'skipped' };
  const followers = rng.shuffle(running(cluster.masters()).filter((s) => s !== leader)).slice(0, 2);
  if (followers.length < 2) return { detail: 'needs two followers', note: 'skipped' };
  // Claimed at once (before any await), so an overlapping fault leaves them alone.
  for (const s of [leader, ...followers]) s.held = true;
  const specs = [`leader.before-assign=kill@${rng.int(1, 3)}`, `leader.after-assign=kill@${rng.int(1, 3)}`];
  const armed: Array<{ slot: Slot; pid?: number }> = [];
  // Restarted in this order, they line up right behind the leader.
  for (let i = 0; i < 2; i++) {
    const s = followers[i]!;
    await cluster.kill9(s);
    s.held = false;
    if (!s.running) cluster.launch(s, specs[i]);
    armed.push({ slot: s, pid: s.pid });
    await cluster.waitCandidate(s, 15_000);
  }
  const detail = await killAndRestart(ctx, leader, rng.int(200, 800));
  // Each armed master leads in turn and dies at its failpoint (then restarts unarmed).
  const died = await until(() => armed.every((a) => a.slot.pid !== a.pid), 10 * ctx.sessionTimeoutMs + 10_000, 200);
  return {
    detail: `${armed.map((a, i) => `${a.slot.name} armed ${specs[i]}`).join(', ')}; leader ${detail}`,
    verified: died === true,
    note: died ? undefined : 'an armed master had not reached its failpoint',
  };
};

export const workerFailpoints: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const ws = rng.shuffle(running(cluster.workers())).slice(0, 2);
  if (ws.length < 2) return { detail: 'needs two workers', note: 'skipped' };
  for (const s of ws) s.held = true;
  const specs = [`worker.before-commit=kill@${rng.int(1, 6)}`, `worker.after-commit=kill@${rng.int(1, 6)}`];
  const armed: Array<{ slot: Slot; pid?: number }> = [];
  for (let i = 0; i < 2; i++) {
    const s = ws[i]!;
    await cluster.kill9(s);
    s.held = false;
    if (!s.running) cluster.launch(s, specs[i]);
    armed.push({ slot: s, pid: s.pid });
  }
  const died = await until(() => armed.every((a) => a.slot.pid !== a.pid), 20_000, 200);
  return {
    detail: armed.map((a, i) => `${a.slot.name} killed and restarted armed ${specs[i]}`).join(', '),
    verified: died === true,
    note: died ? undefined : 'an armed worker had not reached its failpoint',
  };
};

export const drainWorker: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const ws = running(cluster.workers());
  if (ws.length === 0) return { detail: 'no worker to drain', note: 'skipped' };
  const s = rng.pick(ws);
  s.held = true;
  const r = await cluster.term(s, cluster.opts.graceMs + 3 * ctx.sessionTimeoutMs + 5000);
  const pause = rng.int(200, 1500);
  await sleep(pause);
  s.held = false;
  if (!s.running) cluster.launch(s);
  return {
    detail: `${s.name} pid ${r.pid} drained in ${r.ms} ms${r.forced ? ' (did not exit: SIGKILLed)' : ''}, restarted after ${pause} ms`,
    verified: !r.forced,
  };
};

export const pauseLeader: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const leader = await cluster.waitLeader(15_000);
  if (!leader || leader.held || leader.cut) return { detail: 'no live leader', note: 'skipped' };
  const pid = leader.pid!;
  const file = cluster.logFile(leader);
  const hold = ctx.sessionTimeoutMs + rng.int(500, 2500);
  const t0 = Date.now();
  leader.held = true;
  cluster.pause(leader);
  const next = await until(async () => {
    const s = await cluster.leaderSlot();
    return s && s !== leader ? s : null;
  }, hold, 100);
  await sleep(Math.max(0, hold - (Date.now() - t0)));
  cluster.resume(leader);
  leader.held = false;
  const steppedDown = await until(
    () => leader.pid !== pid || readLogLines(file).some((l) => l.time >= t0 && isStepDown(l.msg)),
    10_000,
    200,
  );
  return {
    detail: `${leader.name} pid ${pid} frozen for ${hold} ms; ${next ? `${next.name} took over` : 'nobody took over'}; ${steppedDown ? 'it stepped down' : 'it did NOT step down'}`,
    verified: next !== null && steppedDown === true,
  };
};

export const pauseWorker: Injector = async (ctx) => {
  const { cluster, rng } = ctx;
  const ws = running(cluster.workers());
  if (ws.length === 0) return { detail: 'no worker to freeze', note: 'skipped' };
  const s = rng.pick(ws);
  const pid = s.pid!;
  const hold = ctx.sessionTimeoutMs + rng.int(500, 2500);
  const t0 = Date.now();
  s.held = true;
  cluster.pause(s);
  const gone = await until(async () => !(await cluster.liveWorkerPids()).has(pid), hold, 100);
  await sleep(Math.max(0, hold - (Date.now() - t0)));
  cluster.resume(s);
  s.held = false;
  const back = s.pid === pid ? await cluster.waitWorkerAlive(s, 20_000) : false;
  return {
    detail: `${s.name} pid ${pid} frozen for ${hold} ms; member ${gone ? 'expired' : 'still there'}; ${back ? 're-registered' : 'NOT back'}`,
    verified: gone === true && back,
  };
};
