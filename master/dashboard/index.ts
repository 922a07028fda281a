// The live dashboard any master serves at GET / (see README "Dashboard"): a leader and a
// follower show the same cluster, read from ZooKeeper. Parts: cluster-view.ts (masters,
// workers, queue/finished counts sampled into a ring), task-log.ts + feed.ts (recent tasks
// and failures, from the task feed, open only while a page is connected: live.ts), routes.ts
// (page, JSON API, event stream), page-*.ts (the page itself, shipped as strings in dist).
import { DroverClient } from '../../client/drover-client.js';
import type { Logger } from '../../shared/log.js';
import type { Route } from '../../shared/http/server.js';
import { openLayout } from '../../shared/protocol/layout.js';
import type { ZkSession } from '../../shared/zk/session.js';
import type { Master } from '../master.js';
import { ClusterView } from './cluster-view.js';
import { LiveHub } from './live.js';
import { SECURITY_HEADERS, WORKERS_PAGE_DEFAULT, dashboardRoutes } from './routes.js';
import { TaskLog } from './task-log.js';
import { DeadLetter } from './dead-letter.js';

export interface DashboardOptions {
  session: ZkSession;
  root: string;
  master: Master;
  log: Logger;
  /** How often the queue and finished counts are sampled (default 2000 ms). */
  sampleIntervalMs?: number;
  /** Pages connected at once at most (default live.ts MAX_CLIENTS). */
  maxPages?: number;
  /** Tasks one live batch carries at most (default live.ts BATCH_MAX); tests lower it. */
  batchMax?: number;
  /** Queue and done names above which the feed's seed is skipped (default SEED_MAX_NAMES, live.ts). */
  seedMaxNames?: number;
}

export interface Dashboard {
  routes: Route[];
  close(): Promise<void>;
  /** Pages connected now, whether the task feed is open, and how often it was opened/closed. */
  stats(): { pages: number; feedOpen: boolean; feedOpened: number; feedClosed: number; samples: number };
}

export async function openDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const log = opts.log.child({ component: 'dashboard' });
  const paths = await openLayout(opts.session, opts.root);
  if (!paths) throw new Error(`dashboard: no drover cluster under ${opts.root}`);
  const client = await DroverClient.connect({ session: opts.session, root: opts.root, createLayout: false });
  // Workers' loads are read only while a page is connected (`live` is set before the first tick).
  let live: LiveHub | undefined;
  const view = new ClusterView({ session: opts.session, paths, master: opts.master, log, intervalMs: opts.sampleIntervalMs, wantLoads: () => (live?.clientCount ?? 0) > 0 });
  const tasks = new TaskLog();
  const deadLetter = new DeadLetter();

  const overview = (workerOffset: number, workerLimit: number, withSeries: boolean) => {
    const samples = view.samples();
    const last = samples[samples.length - 1];
    const masters = view.masterList();
    return {
      now: Date.now(),
      root: paths.root || '/',
      self: { role: opts.master.state, name: masters.find((m) => m.self)?.id ?? null },
      leader: view.leader(),
      masters: masters.slice(0, 50),
      mastersTotal: masters.length,
      ...view.workerPage(workerOffset, workerLimit),
      workerOffset,
      // A stale view says so: the page shows "ZooKeeper disconnected — sampled N s ago".
      zookeeper: { ...view.zookeeper(), sampledAt: last?.at ?? null },
      queue: { depth: last?.queued ?? null, inProgress: view.inProgress(), finished: last?.done ?? null, sampledAt: last?.at ?? null },
      throughput: { perSecond1m: view.throughput(60_000), perSecondLast: view.throughput(view.intervalMs * 1.5) },
      sampleIntervalMs: view.intervalMs,
      ...(withSeries ? { series: samples } : { sample: last ?? null }),
    };
  };
  const hub = new LiveHub({
    session: opts.session,
    root: opts.root,
    paths,
    log,
    tasks,
    deadLetter,
    overview: () => overview(0, WORKERS_PAGE_DEFAULT, false),
    headers: SECURITY_HEADERS,
    maxPages: opts.maxPages,
    batchMax: opts.batchMax,
    seedMaxNames: opts.seedMaxNames,
  });
  live = hub;
  const kick = () => hub.overviewChanged();
  view.on('change', kick);
  view.on('sample', kick);
  try {
    await view.start();
  } catch (err) {
    view.stop();
    await client.close();
    throw err;
  }
  const routes = dashboardRoutes(
    { overview, workers: (offset, limit) => ({ ...view.workerPage(offset, limit), offset }) },
    tasks,
    hub,
    client,
    deadLetter,
  );
  return {
    routes,
    stats: () => ({ pages: hub.clientCount, feedOpen: hub.feedOpen, feedOpened: hub.counts.opened, feedClosed: hub.counts.closed, samples: view.samples().length }),
    async close() {
      view.off('change', kick);
      view.off('sample', kick);
      view.stop();
      await hub.close();
      await client.close();
    },
  };
}
