// The live dashboard any master serves at GET / (see README "Dashboard"). Placeholder until
// the dashboard lands: it adds no routes.
import type { Logger } from '../../shared/log.js';
import type { Route } from '../../shared/http/server.js';
import type { ZkSession } from '../../shared/zk/session.js';
import type { Master } from '../master.js';

export interface DashboardOptions {
  session: ZkSession;
  root: string;
  master: Master;
  log: Logger;
}

export interface Dashboard {
  routes: Route[];
  close(): Promise<void>;
}

export async function openDashboard(_opts: DashboardOptions): Promise<Dashboard> {
  return { routes: [], close: async () => {} };
}
