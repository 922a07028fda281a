// The small HTTP server a master or worker runs on --http: a list of routes tried in order.
// Binds to 127.0.0.1 unless told otherwise: it shows the cluster's tasks to whoever reaches it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '../metrics/registry.js';

/** Handles the request and returns true, or returns false to let the next route try. */
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface HttpServerOptions {
  port: number;
  host?: string;
  routes: Route[];
}

/** The server's base URL (an IPv6 address in brackets). */
export function baseUrl(s: Pick<RunningHttpServer, 'host' | 'port'>): string {
  return `http://${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}/`;
}

export interface RunningHttpServer {
  server: Server;
  /** The port bound (the one asked for, or the one the OS chose for 0). */
  port: number;
  host: string;
  close(): Promise<void>;
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    handle(opts.routes, req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        // Open event streams (the dashboard's) would keep close() waiting forever.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    // A request target that is not a path (`GET http://x:99999/`) makes URL throw: inside the
    // try, so it is a 400 and never an unhandled rejection that would end the process.
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendJson(res, 400, { error: 'malformed request target' });
      return;
    }
    for (const route of routes) if (await route(req, res, url)) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') sendJson(res, 405, { error: `method ${req.method} not allowed` });
    else sendJson(res, 404, { error: `no such path: ${url.pathname}` });
  } catch (err) {
    if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
    else res.destroy();
  }
}

/** GET /metrics in the Prometheus text format. */
export function metricsRoute(registry: Registry): Route {
  return async (req, res, url) => {
    if (url.pathname !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** GET /healthz: 200 while `healthy()` holds, else 503, with its details. */
export function healthRoute(check: () => { ok: boolean } & Record<string, unknown>): Route {
  return (req, res, url) => {
    if (url.pathname !== '/healthz' || req.method !== 'GET') return false;
    const r = check();
    sendJson(res, r.ok ? 200 : 503, r);
    return true;
  };
}
