// A worker's sandbox metrics: sandboxes started and ended, by kind and how they ended (both
// bounded sets). Starts minus ends is how many are alive; ends other than `closed` are
// replacements a task paid for.
import { counter } from '../../shared/metrics/get-or-create.js';
import type { Registry } from '../../shared/metrics/registry.js';
import type { SandboxEndReason } from './channel.js';
import type { SandboxKind } from './protocol.js';

export interface SandboxMetrics {
  started(): void;
  ended(reason: SandboxEndReason): void;
}

export function sandboxMetrics(registry: Registry, kind: SandboxKind): SandboxMetrics {
  const starts = counter(registry, { name: 'drover_worker_sandbox_starts_total', help: 'Sandboxes (worker threads or child processes) this worker started, by kind', labelNames: ['kind'] });
  const ends = counter(registry, {
    name: 'drover_worker_sandbox_ends_total',
    help: 'Sandboxes that ended, by kind and reason (exit: exited or crashed; out-of-memory; killed: ignored its abort past the grace; error; closed: the worker stopped)',
    labelNames: ['kind', 'reason'],
  });
  return {
    started: () => starts.inc({ kind }),
    ended: (reason) => ends.inc({ kind, reason }),
  };
}
