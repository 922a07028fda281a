// The --http server of masters and workers, over real HTTP: a request target URL cannot parse
// is a 400 and the process lives on; a port already in use is refused before the role starts.
import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsRoute, startHttpServer, type RunningHttpServer } from '../shared/http/server.js';
import { createMetricsRegistry } from '../shared/metrics/registry.js';
import { ProcessPool } from './harness/processes.js';
import { SessionPool, TEST_SESSION_MS, freshLayout, zkConnect } from './harness/zk.js';

const pool = new SessionPool();
const procs = new ProcessPool();
let http: RunningHttpServer;

beforeAll(async () => {
  http = await startHttpServer({ port: 0, routes: [metricsRoute(createMetricsRegistry())] });
});
afterAll(async () => {
  await http.close();
  await procs.killAll();
  await pool.closeAll();
});

/** Sends raw bytes and returns the status line of the reply. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let got = '';
    s.on('data', (d) => {
      got += d;
      if (got.includes('\r\n')) {
        s.destroy();
        resolve(got.split('\r\n')[0]!);
      }
    });
    s.on('error', reject);
    s.setTimeout(5000, () => reject(new Error('no reply')));
  });
}

describe('the --http server', () => {
  it('answers an unparseable request target with 400, and goes on serving', async () => {
    expect(await rawRequest(http.port, 'GET http://x:99999/ HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
    const res = await fetch(`http://127.0.0.1:${http.port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^process_cpu_seconds_total /m);
    const head = await fetch(`http://127.0.0.1:${http.port}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${http.port}/nope`)).status).toBe(404);
  });

  it('a worker whose --http port is taken exits with one line and never registers', async () => {
    const s = await pool.open();
    const layout = await freshLayout(s);
    const root = layout.root;
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await procs.run(['worker', '--id', 'busy-port', '--http', String(port), '--zk', zkConnect(), '--root', root, '--session-timeout', String(TEST_SESSION_MS)]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/EADDRINUSE|in use/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      // It never became a member.
      const members = await s.getChildren(layout.workers);
      expect(members.children).toEqual([]);
    } finally {
      busy.close();
    }
  });
});
