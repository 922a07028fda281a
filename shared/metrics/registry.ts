// The metrics of one process: a prom-client Registry that each role fills with its own
// drover_* metrics, plus Node's process metrics under their standard names.
import { collectDefaultMetrics, Registry } from 'prom-client';

export type { Registry };

/** A registry with the process and Node.js default metrics (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
