// Get-or-create of a registry's metrics: several sessions and roles of one process may share
// a registry, and the second to register a name must get the first's metric, not a throw.
import { Counter, Gauge, Histogram, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from 'prom-client';
import type { Registry } from './registry.js';

type Named = { name: string };

function getOrCreate<M, C extends Named>(registry: Registry, config: C, make: (c: C & { registers: Registry[] }) => M): M {
  return (registry.getSingleMetric(config.name) as M | undefined) ?? make({ ...config, registers: [registry] });
}

export function counter<L extends string>(registry: Registry, config: CounterConfiguration<L>): Counter<L> {
  return getOrCreate(registry, config, (c) => new Counter<L>(c));
}

export function gauge<L extends string>(registry: Registry, config: GaugeConfiguration<L>): Gauge<L> {
  return getOrCreate(registry, config, (c) => new Gauge<L>(c));
}

export function histogram<L extends string>(registry: Registry, config: HistogramConfiguration<L>): Histogram<L> {
  return getOrCreate(registry, config, (c) => new Histogram<L>(c));
}

/**
 * State kept once per registry (the sources a collect-time gauge sums): a WeakMap, so a
 * registry dropped by its owner takes its state with it.
 */
export function perRegistry<T>(make: () => T): (registry: Registry) => T {
  const states = new WeakMap<Registry, T>();
  return (registry) => {
    let s = states.get(registry);
    if (!s) states.set(registry, (s = make()));
    return s;
  };
}
