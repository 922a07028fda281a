// A session's drover_zk_* metrics: requests, errors and latency by operation, measured in the
// one place every request of a session passes (SessionRequests.call), reconnects, expiries
// and whether it is connected. Cost: no ZooKeeper request; per request a counter increment
// and a histogram observation (an error adds one increment).
import { ZkError } from '../zk/errors.js';
import { counter, gauge, histogram, perRegistry } from './get-or-create.js';
import type { Registry } from './registry.js';

/** The `op` label: the session's request kinds (a fixed set; anything else would be 'other'). */
export const ZK_OPS = [
  'create',
  'delete',
  'setData',
  'getData',
  'exists',
  'getChildren',
  'multi',
  'multiRead',
  'addWatch',
  'removeWatches',
  'setOneShot',
] as const;
export type ZkOpLabel = (typeof ZK_OPS)[number] | 'other';
const OPS = new Set<string>(ZK_OPS);
/** The session's own names for some requests (`remove`) are ZooKeeper's (`delete`) here. */
const ALIASES: Record<string, ZkOpLabel> = { remove: 'delete' };

/** 0.5 ms (a loopback read) to 5 s (past a request timeout of a short session). */
export const ZK_REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the `connected` gauge sums at scrape time: every session attached to a registry. */
interface Sources {
  sessions: Set<() => boolean>;
}
const sourcesOf = perRegistry<Sources>(() => ({ sessions: new Set() }));

export interface ZkRequestTimer {
  /** The request settled: `err` is its error, if any. */
  done(err?: unknown): void;
}

export interface ZkMetrics {
  /** Starts timing one request of kind `op`. */
  request(op: string): ZkRequestTimer;
  /** The session came back after losing its connection (same session or a new one after an expiry). */
  reconnected(): void;
  expired(): void;
  /** Stops counting this session in `drover_zk_connected` (on close). */
  detach(): void;
}

export function opLabel(op: string): ZkOpLabel {
  return ALIASES[op] ?? (OPS.has(op) ? (op as ZkOpLabel) : 'other');
}

/** Registers (or finds) the drover_zk_* metrics in `registry` for one session whose state `connected()` tells. */
export function zkMetrics(registry: Registry, connected: () => boolean): ZkMetrics {
  const sources = sourcesOf(registry);
  const requests = counter(registry, { name: 'drover_zk_requests_total', help: 'ZooKeeper requests sent, by operation (a multi or multiRead counts once)', labelNames: ['op'] });
  const errors = counter(registry, {
    name: 'drover_zk_request_errors_total',
    help: 'ZooKeeper requests that failed, by operation and error code (NO_NODE, BAD_VERSION, CONNECTION_LOSS, REQUEST_TIMEOUT, ...)',
    labelNames: ['op', 'code'],
  });
  const duration = histogram(registry, {
    name: 'drover_zk_request_duration_seconds',
    help: 'Time from sending a ZooKeeper request to its reply (or its failure), by operation',
    labelNames: ['op'],
    buckets: ZK_REQUEST_BUCKETS,
  });
  const reconnects = counter(registry, { name: 'drover_zk_reconnects_total', help: 'Times a ZooKeeper session was connected again after losing its connection' });
  const expiries = counter(registry, { name: 'drover_zk_session_expiries_total', help: 'ZooKeeper sessions expired (told by the server, or given up after a whole session timeout without a connection)' });
  gauge(registry, {
    name: 'drover_zk_connected',
    help: 'ZooKeeper sessions of this process that are connected now (1 or 0 for a process with one session)',
    collect() {
      let n = 0;
      for (const c of sources.sessions) if (c()) n += 1;
      this.set(n);
    },
  });
  sources.sessions.add(connected);
  return {
    request(op) {
      const label = opLabel(op);
      const t0 = process.hrtime.bigint();
      requests.inc({ op: label });
      return {
        done(err) {
          duration.observe({ op: label }, Number(process.hrtime.bigint() - t0) / 1e9);
          if (err !== undefined) errors.inc({ op: label, code: err instanceof ZkError ? err.code : 'ZK_ERROR' });
        },
      };
    },
    reconnected: () => reconnects.inc(),
    expired: () => expiries.inc(),
    detach: () => void sources.sessions.delete(connected),
  };
}
