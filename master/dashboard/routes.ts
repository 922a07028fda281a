// The dashboard's HTTP routes: the page (HTML, its script and its style at their own paths, so
// the Content-Security-Policy allows no inline script or style at all), the JSON API, and the
// event stream. Every list the API returns is bounded by a limit with a ceiling. Reads of
// ZooKeeper: /api/task/:id reads one record (and its assignment for progress) and its
// dependencies as `get` does (client/task-dag-view.ts: the parents node, its first chunk and
// ≤ 100 parent records; the stat of its reverse-edge directory and ≤ 50 chunks, MAX_CHILD_CHUNKS); the overview,
// workers and lists answer from memory (cluster-view.ts, task-log.ts, kept by watches and
// ticks); /api/events opens the task feed while any page listens (live.ts). A request that
// reaches a server bound to a loopback address must name a loopback Host: a page of another
// origin whose name was rebound to 127.0.0.1 (DNS rebinding) gets a 421, not the cluster.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import type { DroverClient } from '../../client/drover-client.js';
import { sendJson, type Route } from '../../shared/http/server.js';
import { InvalidIdError, assertTaskId } from '../../shared/protocol/paths.js';
import { TASK_STATES } from '../../shared/protocol/task-state.js';
import type { LiveHub } from './live.js';
import { PAGE_CSS } from './page-css.js';
import { PAGE_HTML } from './page-html.js';
import { PAGE_JS } from './page-js.js';
import { FAILURES_MAX, RECENT_MAX, type TaskLog } from './task-log.js';
import { DEAD_LETTER_MAX, type DeadLetter } from './dead-letter.js';
import { attemptsUsed } from '../../shared/protocol/task-state.js';

/** The page loads only its own script, style and API: no inline code, no other origin, no framing. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export const WORKERS_PAGE_MAX = 500;
export const WORKERS_PAGE_DEFAULT = 100;

export interface DashboardApi {
  overview(workerOffset: number, workerLimit: number, withSeries: boolean): unknown;
  workers(offset: number, limit: number): unknown;
}

/** An integer query parameter, clamped to [min, max]; `def` when absent or not a number. */
export function intParam(url: URL, name: string, def: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  const n = raw === null || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, Math.trunc(n))) : def;
}

function asset(res: ServerResponse, type: string, body: string): true {
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}

function json(res: ServerResponse, code: number, body: unknown): true {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  sendJson(res, code, body);
  return true;
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether the connection came in on a loopback address (127/8, ::1, IPv4-mapped 127/8). */
export function isLoopbackAddress(addr: string | undefined): boolean {
  if (!addr) return false;
  const v4 = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return v4 === '::1' || /^127\.\d+\.\d+\.\d+$/.test(v4);
}

/** A loopback Host header: localhost, 127.0.0.1 or [::1], with any port (or none). */
export function isLoopbackHost(host: string | undefined): boolean {
  // No Host at all (HTTP/1.0, a bare health probe): a rebinding browser always sends one.
  if (host === undefined) return true;
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(host.trim().toLowerCase());
  return m !== null && LOOPBACK_HOSTS.has(m[1]!);
}

/** The address the server listens on (`socket.server`, set by net for accepted sockets), else the connection's own. */
function boundAddress(req: IncomingMessage): string | undefined {
  const bound = (req.socket as { server?: Server }).server?.address();
  return bound && typeof bound === 'object' ? bound.address : req.socket.localAddress;
}

/** Refuses (421) a request to a loopback-bound server whose Host is not a loopback name. */
export function hostGuard(req: IncomingMessage, res: ServerResponse): boolean {
  if (!isLoopbackAddress(boundAddress(req)) || isLoopbackHost(req.headers.host)) return false;
  res.writeHead(421, { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
  res.end('this dashboard answers to localhost, 127.0.0.1 or [::1] only\n');
  return true;
}

export function dashboardRoutes(api: DashboardApi, tasks: TaskLog, live: LiveHub, client: DroverClient, deadLetter: DeadLetter): Route[] {
  const guard: Route = (req, res) => hostGuard(req, res);
  const page: Route = (req, res, url) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    switch (url.pathname) {
      case '/':
      case '/index.html':
        return asset(res, 'text/html; charset=utf-8', PAGE_HTML);
      case '/dashboard.js':
        return asset(res, 'text/javascript; charset=utf-8', PAGE_JS);
      case '/dashboard.css':
        return asset(res, 'text/css; charset=utf-8', PAGE_CSS);
      case '/favicon.ico':
        res.writeHead(204, SECURITY_HEADERS);
        res.end();
        return true;
      default:
        return false;
    }
  };
  const apiRoute: Route = async (req, res, url) => {
    if (req.method !== 'GET' || !url.pathname.startsWith('/api/')) return false;
    const path = url.pathname;
    if (path === '/api/events') return (live.attach(req, res), true);
    if (path === '/api/overview') {
      return json(res, 200, api.overview(intParam(url, 'workerOffset', 0, 0, Number.MAX_SAFE_INTEGER), intParam(url, 'workerLimit', WORKERS_PAGE_DEFAULT, 0, WORKERS_PAGE_MAX), true));
    }
    if (path === '/api/workers') {
      return json(res, 200, api.workers(intParam(url, 'offset', 0, 0, Number.MAX_SAFE_INTEGER), intParam(url, 'limit', WORKERS_PAGE_DEFAULT, 1, WORKERS_PAGE_MAX)));
    }
    if (path === '/api/tasks/recent') {
      const state = url.searchParams.get('state') ?? undefined;
      if (state !== undefined && !(TASK_STATES as readonly string[]).includes(state)) return json(res, 400, { error: `unknown state ${state}; one of ${TASK_STATES.join(', ')}` });
      const limit = intParam(url, 'limit', 50, 1, RECENT_MAX);
      return json(res, 200, { tasks: tasks.recentTasks(limit, state), limit, max: RECENT_MAX, feed: live.feedOpen });
    }
    if (path === '/api/failures') {
      const limit = intParam(url, 'limit', 20, 1, FAILURES_MAX);
      return json(res, 200, { failures: tasks.recentFailures(limit), limit, max: FAILURES_MAX });
    }
    if (path === '/api/dead-letter') {
      // From memory: kept while a page's feed is open (live.ts), empty before one opened.
      const limit = intParam(url, 'limit', 50, 1, DEAD_LETTER_MAX);
      return json(res, 200, { ...live.deadLetterBody(limit), limit, feed: live.feedOpen });
    }
    if (path.startsWith('/api/task/')) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/api/task/'.length));
        assertTaskId(id);
      } catch (err) {
        return json(res, 400, { error: err instanceof InvalidIdError ? err.message : 'malformed task id in the path' });
      }
      let task;
      try {
        task = await client.get(id);
      } catch (err) {
        return json(res, 503, { error: (err as Error).message });
      }
      // attemptsUsed: the budget rule (task-state.ts) computed here, not again in the page.
      return task ? json(res, 200, { task, attemptsUsed: attemptsUsed(task) }) : json(res, 404, { error: `no task ${id}` });
    }
    return json(res, 404, { error: `no such path: ${path}` });
  };
  return [guard, page, apiRoute];
}
