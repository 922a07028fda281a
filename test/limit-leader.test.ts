// Limits (control/limits) with the leader in this process and 3 workers × 4 slots: maxRunning
// of a type and of a label is never exceeded (the assignment znodes sampled every ~20 ms
// throughout) and every task ends; the CLI sets, lists and removes limits and `status` shows
// them with the leader's running count; a held-back class counts as unplaceable{reason=limit};
// the codec's checks, and a new bucket's seeding from the starts it can see (no burst) and from
// the previous leader's published tokens; limits applied by the round only (never mid-round),
// rate-only scopes counted too; a held task whose record is not readable yet is read again
// (a refused one alone, not its batch-mates); placements released unsent give their tokens back;
// leader-status lists the first 100 limits, status says "… and N more".
// The start rate across a leader kill -9, with real master processes: limit-rate-failover.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DroverClient } from '../client/drover-client.js';
import { EXIT } from '../cli/exit-codes.js';
import { ClassGate } from '../master/class-gate.js';
import { ClassLearner } from '../master/held-classes.js';
import type { Held, LeaderContext } from '../master/leader-context.js';
import { Limiter, type PriorBucket } from '../master/limits.js';
import { ControlError } from '../shared/protocol/control.js';
import { decodeLimits, encodeLimits, withLimit, withoutLimit } from '../shared/protocol/limits.js';
import { Paths } from '../shared/protocol/paths.js';
import { readTask } from '../shared/protocol/task-store.js';
import type { ZkSession } from '../shared/zk/session.js';
import { Worker } from '../worker/worker.js';
import { runLeadership, type LeaderRun } from './harness/leadership-run.js';
import { ProcessPool } from './harness/processes.js';
import { waitFor } from './harness/wait-for.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, testLog, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
const procs = new ProcessPool();
let s: ZkSession;
let paths: Paths;
let leader: LeaderRun;
const workers: Worker[] = [];
let client: DroverClient;
let g: string[];
let openGate!: () => void;
const gate = new Promise<void>((r) => (openGate = r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  s = await pool.open();
  paths = await freshLayout(s);
  g = ['--zk', zkConnect(), '--root', paths.root];
  leader = await runLeadership(await pool.open(), paths);
  for (const id of ['lw1', 'lw2', 'lw3']) {
    const w = new Worker({
      session: await pool.open(),
      root: paths.root,
      id,
      concurrency: 4,
      labels: { pool: 'a' },
      sessionTimeoutMs: TEST_SESSION_MS,
      gracePeriodMs: 1000,
      log: testLog,
      handlers: { short: () => sleep(40).then(() => 'ok'), other: () => sleep(40).then(() => 'ok'), gated: () => gate.then(() => 'done') },
    });
    await w.start();
    workers.push(w);
  }
  client = await DroverClient.connect({ session: s, root: paths.root });
});

afterAll(async () => {
  openGate();
  for (const w of workers) await w.stop().catch(() => undefined);
  await leader?.stop().catch(() => undefined);
  await procs.killAll();
  await pool.closeAll();
});

/** Assignments held now (read from ZooKeeper: assign/ and its directories) whose task is in `ids`. */
async function heldOf(ids: ReadonlySet<string>): Promise<number> {
  const { children } = await s.getChildren(paths.assign);
  const dirs = await s.getChildrenMany(children.map((m) => paths.assignDir(m)));
  let n = 0;
  for (const d of dirs) if (d.ok) for (const name of d.children) if (ids.has(Paths.parseAssignment(name)?.taskId ?? '')) n++;
  return n;
}

/** Runs `ids` to the end while sampling, every ~20 ms, how many of them are held at once: the max seen. */
async function runSampled(ids: readonly string[]): Promise<number> {
  const set = new Set(ids);
  let max = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      max = Math.max(max, await heldOf(set));
      await sleep(20);
    }
  })();
  try {
    const ended = await client.waitMany(ids, { timeoutMs: 20_000 });
    expect(ended.every((t) => t.state === 'succeeded')).toBe(true);
  } finally {
    done = true;
    await sampler;
  }
  return max;
}

describe('limits with the leader', () => {
  it('maxRunning of a type, then of a label, is never exceeded across 12 slots, and every task ends', async () => {
    await client.rateLimits.set({ type: 'short' }, { maxRunning: 3 });
    await waitFor(() => leader.leadership['control'].limits.length === 1, { message: 'the leader read the limit' });
    const a = await client.submitMany(Array.from({ length: 40 }, (_, i) => ({ type: 'short', id: `s-${i}` })));
    const maxA = await runSampled(a.map((x) => x.id));
    expect(maxA).toBeLessThanOrEqual(3);
    // Used to the full (12 slots would run 12 at once without it).
    expect(maxA).toBe(3);

    await client.rateLimits.set({ label: 'pool=a' }, { maxRunning: 2 });
    await waitFor(() => leader.leadership['control'].limits.length === 2, { message: 'the leader read the label limit' });
    const b = await client.submitMany(Array.from({ length: 20 }, (_, i) => ({ type: 'other', id: `o-${i}`, labels: { pool: 'a' } })));
    const maxB = await runSampled(b.map((x) => x.id));
    expect(maxB).toBeLessThanOrEqual(2);
    expect(maxB).toBe(2);
    await client.rateLimits.remove({ label: 'pool=a' });
    await client.rateLimits.remove({ type: 'short' });
    expect(await client.rateLimits.list()).toEqual([]);
  });

  it('the CLI sets, lists and removes limits; status shows them with the running count; held-back tasks count as limit', async () => {
    const set = await procs.run(['limit', 'set', '--type', 'gated', '--max-running', '2', ...g]);
    expect(set.code, set.stderr).toBe(EXIT.ok);
    expect(set.stdout).toBe('type gated\tmaxRunning 2\n');
    await client.rateLimits.set({ label: 'zone=x' }, { ratePerSec: 2.5 });
    expect(await client.rateLimits.list()).toEqual([
      { scope: { type: 'gated' }, maxRunning: 2 },
      { scope: { label: 'zone=x' }, ratePerSec: 2.5 },
    ]);
    expect((await procs.run(['limit', 'list', ...g])).stdout).toBe('type gated\tmaxRunning 2\nlabel zone=x\trate 2.5/s burst 3\n');
    // A usage error before connecting: two scopes.
    expect((await procs.run(['limit', 'set', '--type', 'a', '--label', 'k=v', '--rate', '1', ...g])).code).toBe(EXIT.usage);

    await waitFor(() => leader.leadership['control'].limits.length === 2, { message: 'the leader read both limits' });
    await client.submitMany(Array.from({ length: 5 }, (_, i) => ({ type: 'gated', id: `g-${i}` })));
    const st = await waitFor(async () => {
      const r = await client.status();
      return r.limits[0]?.running === 2 && r.queue.depth === 3 ? r : null;
    }, { message: 'status shows 2 running of the gated limit', timeoutMs: 8000 });
    expect(st.limits).toEqual([
      { scope: { type: 'gated' }, maxRunning: 2, running: 2 },
      { scope: { label: 'zone=x' }, ratePerSec: 2.5, running: 0, tokens: expect.any(Number) },
    ]);
    expect(st.dependencyWaiting).toBe(0);
    const text = await procs.run(['status', ...g]);
    expect(text.stdout).toMatch(/^limits: {6}2\n {2}type gated\tmaxRunning 2\trunning 2\n {2}label zone=x\trate 2\.5\/s burst 3\trunning 0$/m);
    await waitFor(() => leader.leadership.picture().unplaceable.limit === 3, { message: 'the 3 held back count as limit' });

    // Removed: the 3 held back run too.
    expect((await procs.run(['limit', 'remove', '--type', 'gated', ...g])).code).toBe(EXIT.ok);
    await waitFor(async () => (await heldOf(new Set(Array.from({ length: 5 }, (_, i) => `g-${i}`)))) === 5, { message: 'all 5 held once the limit is gone' });
    openGate();
    await client.waitMany(Array.from({ length: 5 }, (_, i) => `g-${i}`), { timeoutMs: 10_000 });
    expect(leader.leadership.picture().unplaceable.limit).toBe(0);
  });

  it('codec: set replaces, remove drops, bad input refused, unreadable entries skipped', () => {
    let l = withLimit([], { type: 't' }, { maxRunning: 1 });
    l = withLimit(l, { type: 't' }, { ratePerSec: 3, burst: 7 });
    expect(l).toEqual([{ scope: { type: 't' }, ratePerSec: 3, burst: 7 }]);
    expect(decodeLimits(encodeLimits(l))).toEqual(l);
    expect(withoutLimit(l, { type: 't' })).toEqual([]);
    expect(() => withLimit([], { type: 't' }, {})).toThrow(ControlError);
    expect(() => withLimit([], { type: 't' }, { maxRunning: -1 })).toThrow(ControlError);
    expect(() => withLimit([], { type: 't' }, { burst: 2 })).toThrow(ControlError);
    expect(() => withLimit([], { label: '=v' }, { maxRunning: 1 })).toThrow(ControlError);
    expect(decodeLimits(Buffer.from('{"limits":[{"scope":{"type":"t"}},{"scope":{"label":"k=v"},"maxRunning":2}]}'))).toEqual([{ scope: { label: 'k=v' }, maxRunning: 2 }]);
    expect(decodeLimits(Buffer.from('nope'))).toEqual([]);
  });

  it('a new bucket starts at capacity minus the starts it can see within capacity/R seconds, never full', () => {
    const now = 1_000_000;
    const lim = new Limiter();
    lim.set([{ scope: { type: 't' }, ratePerSec: 2, burst: 4 }]);
    const held = (type: string, ago: number) => ({ member: 'm', taskId: `x${ago}`, attempt: 1, deadline: null, type, labels: {}, assignedAt: now - ago });
    // Window: 4 / 2 = 2 s. Three starts of t inside it, one outside, one of another type.
    lim.beginRound([held('t', 100), held('t', 900), held('t', 1900), held('t', 2500), held('u', 10)], 0, now);
    const room = () => lim.room({ type: 't', labels: {} });
    expect(room()).toBe(1);
    expect(lim.reserve(lim.scopesFor({ type: 't', labels: {} }))).toBe(true);
    expect(room()).toBe(0);
    // Refilled at R/s from then on (0.5 s: one token), never past capacity.
    lim.beginRound([], 0, now + 500);
    expect(room()).toBe(1);
    lim.beginRound([], 0, now + 60_000);
    expect(room()).toBe(4);
  });

  it('limits set during a round wait for the next round, which counts what is held before placing', () => {
    const gate = new ClassGate();
    const held = (i: number, type = 't') => ({ member: 'm', taskId: `h${i}`, attempt: 1, deadline: null, type, labels: {} });
    const t = { type: 't', labels: {} };
    gate.setLimits([{ scope: { type: 't' }, maxRunning: 3 }]);
    // Mid-round (the round began with no limits): nothing swapped in, so no scope counted 0 in flight.
    expect(gate.limits.active).toBe(false);
    expect(gate.limitsWanted).toBe(true);
    gate.applyLimits();
    gate.limits.beginRound([held(1), held(2)], 0);
    expect(gate.limits.room(t)).toBe(1);
    gate.setLimits([]);
    expect(gate.limitsWanted).toBe(false);
    expect(gate.limits.room(t)).toBe(1);
    gate.applyLimits();
    expect(gate.limits.active).toBe(false);
  });

  it('a rate-only scope counts its running tasks (status), and keeps the count when maxRunning is added', () => {
    const lim = new Limiter();
    const t = { type: 't', labels: {} };
    lim.set([{ scope: { type: 't' }, ratePerSec: 1, burst: 1 }]);
    const held = Array.from({ length: 20 }, (_, i) => ({ member: 'm', taskId: `r${i}`, attempt: 1, deadline: null, type: 't', labels: {} }));
    // The first round seeds the bucket, the next ones only refill it: counted in each.
    lim.beginRound(held, 0);
    lim.beginRound(held, 0);
    expect(lim.report()[0]).toMatchObject({ running: 20 });
    // Of unknown type (not learnt yet): in every scope, once each, plus the unread ones.
    const untyped = Array.from({ length: 3 }, (_, i) => ({ member: 'm', taskId: `u${i}`, attempt: 1, deadline: null }));
    lim.beginRound([...held, ...untyped], 2);
    expect(lim.report()[0]).toMatchObject({ running: 25 });
    lim.set([{ scope: { type: 't' }, ratePerSec: 1, burst: 1, maxRunning: 3 }]);
    expect(lim.room(t)).toBe(0);
  });

  it("a new leader's bucket starts at most at the previous leader's published tokens, refilled since", () => {
    const now = 2_000_000;
    const limit = { scope: { type: 't' }, ratePerSec: 2, burst: 10 };
    const room = (prior?: Map<string, PriorBucket>) => {
      const lim = new Limiter();
      lim.set([limit]);
      lim.beginRound([], 0, now, prior);
      return lim.room({ type: 't', labels: {} });
    };
    // Its starts that finished are not held: without its account the bucket would start full.
    expect(room()).toBe(10);
    expect(room(new Map([['type:t', { limit, tokens: 0.5, at: now - 1500 }]]))).toBe(3);
    // Published long ago: full (capacity − the starts seen still bounds it).
    expect(room(new Map([['type:t', { limit, tokens: 0, at: now - 60_000 }]]))).toBe(10);
    // Other settings than this leader's: not its bucket.
    expect(room(new Map([['type:t', { limit: { ...limit, burst: 20 }, tokens: 0, at: now }]]))).toBe(10);
  });

  it('a held task whose record could not be read (malformed for a while) is read again until its class is learnt', async () => {
    const p2 = await freshLayout(s);
    const c2 = await DroverClient.connect({ session: s, root: p2.root });
    const { id } = await c2.submit({ type: 'k', labels: { z: '1' } });
    const good = (await s.getData(p2.task(id))).data;
    const rec = (await c2.get(id))!;
    const learner = new ClassLearner({ session: s, paths: p2, log: testLog } as unknown as LeaderContext);
    const h: Held = { member: 'm', taskId: id, attempt: rec.attempt, deadline: null };
    await s.setData(p2.task(id), Buffer.from('not a record'));
    const now = Date.now();
    await learner.learn([h], now);
    expect(h.type).toBeUndefined();
    await s.setData(p2.task(id), good);
    // Not due yet (1 s after): not read again.
    await learner.learn([h], now + 500);
    expect(learner.reads).toBe(1);
    await learner.learn([h], now + 1000);
    expect(learner.reads).toBe(2);
    expect(h).toMatchObject({ type: 'k', labels: { z: '1' } });
  });

  it('placements released unsent (an assign batch that moved, a round that may not place) give their tokens back', async () => {
    // A type no worker takes (never placed by the rounds), a bucket that barely refills (300 s window).
    await client.rateLimits.set({ type: 'mv' }, { ratePerSec: 0.01, burst: 3 });
    const lim = leader.leadership['queue'].gate.limits;
    const bucket = () => lim.list.find((x) => x.key === 'type:mv');
    await waitFor(() => (bucket()?.tokens ?? 0) >= 2.99, { message: 'the leader seeded the mv bucket' });
    const { id } = await client.submit({ type: 'mv', id: 'mv-1' });
    const read = await readTask(s, paths, id);
    if (read.kind !== 'ok') throw new Error('no record');
    // An entry that is not there and a stale version: the multi cannot write anything ('moved').
    const entry = { name: 'mv-fake-entry', shard: paths.shardNames[0]!, priority: 0, notBefore: 0, taskId: id, big: false };
    const cur = { record: read.record, version: read.version + 7 };
    const worker = leader.leadership['observer'].members()[0]!.name;
    const assigner = leader.leadership['assigner'];
    const scopes = lim.scopesFor(read.record);
    expect(lim.reserve(scopes)).toBe(true);
    expect(bucket()!.tokens).toBeLessThan(2.1);
    await assigner['commitPlacements']([{ entry, cur, worker }], new Map());
    expect(bucket()!.tokens).toBeGreaterThan(2.9);
    // The path of a round that may no longer place (or whose read loop threw): releaseAll.
    expect(lim.reserve(scopes)).toBe(true);
    assigner['releaseAll']([{ task: { entry, cur, id, type: 'mv', labels: {} }, worker }]);
    expect(bucket()!.tokens).toBeGreaterThan(2.9);
    await client.cancel(id);
    await client.rateLimits.remove({ type: 'mv' });
  });

  it('leader-status lists the first 100 limits; status shows the others as "… and N more", their running unknown', async () => {
    const many = Array.from({ length: 101 }, (_, i) => ({ scope: { type: `cap-${i}` }, maxRunning: 1 }));
    await s.setData(paths.controlLimits, encodeLimits(many));
    const st = await waitFor(async () => {
      const r = await client.status();
      return r.limits.length === 101 && r.limits[0]!.running !== null ? r : null;
    }, { message: 'the leader published the 101 limits', timeoutMs: 8000 });
    expect(st.limits[99]!.running).toBe(0);
    expect(st.limits[100]!.running).toBeNull();
    const text = await procs.run(['status', ...g]);
    expect(text.stdout).toContain('limits:      101\n');
    expect(text.stdout).toContain('  type cap-99\tmaxRunning 1\trunning 0\n  … and 1 more (drover limit list shows them all)\n');
    expect(text.stdout).not.toContain('cap-100');
    await s.setData(paths.controlLimits, encodeLimits([]));
  });

  it("one held record refused (NO_AUTH) defers only itself: its batch-mates' classes are learnt", async () => {
    const p2 = await freshLayout(s);
    const c2 = await DroverClient.connect({ session: s, root: p2.root });
    const subs = await c2.submitMany(Array.from({ length: 3 }, (_, i) => ({ type: `n${i}`, id: `na-${i}` })));
    const held: Held[] = [];
    for (const { id } of subs) {
      const { data } = await s.getData(p2.task(id));
      held.push({ member: 'm', taskId: id, attempt: (await c2.get(id))!.attempt, deadline: null, recordBytes: data.length });
    }
    // Readable by an identity nobody has: this session's read is refused.
    await s.setACL(p2.task('na-1'), [{ perms: 31, scheme: 'digest', id: 'nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }]);
    const learner = new ClassLearner({ session: s, paths: p2, log: testLog } as unknown as LeaderContext);
    const now = Date.now();
    await learner.learn(held, now);
    expect(held.map((h) => h.type)).toEqual(['n0', undefined, 'n2']);
    // Only the refused one is read again, when due.
    await learner.learn(held, now + 1000);
    expect(learner.reads).toBe(4);
    expect(held[1]!.type).toBeUndefined();
  });
});
