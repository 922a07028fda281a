// One queued entry as the leader's queue index holds it, and the two orders it is kept in.
// A slot keeps only the entry's name (priority complement, not-before, task id, big marker)
// and its shard: everything else is derived from the name when needed, so a million queued
// entries stay small (~195 B each with the name).
import { QUEUE_NOT_BEFORE_CHARS } from '../shared/protocol/paths.js';
import type { Heap } from './heap.js';
import type { ClassQueue } from './queue-classes.js';

/** One entry: the name (all else derives from it), its shard's index, the reset that last saw it. */
export class Slot {
  cls: ClassQueue<Slot> | null = null;
  /** The heap it is in; null while taken. */
  home: Heap<Slot> | null = null;
  constructor(
    readonly name: string,
    readonly shard: number,
    public seen: number,
  ) {}
}

const { from: NB_FROM, to: NB_TO } = QUEUE_NOT_BEFORE_CHARS;

export function byName(a: Slot, b: Slot): boolean {
  // Names sort by priority complement, then not-before: plain string order is the queue order.
  return a.name < b.name;
}

/** By not-before time (compared in place, digit by digit: no parse per comparison), then name. */
export function byDue(a: Slot, b: Slot): boolean {
  for (let i = NB_FROM; i < NB_TO; i++) {
    const d = a.name.charCodeAt(i) - b.name.charCodeAt(i);
    if (d !== 0) return d < 0;
  }
  return a.name < b.name;
}

/** Priority bands of drover_queue_depth: high ≥ 7000, normal 3000..6999, low < 3000. */
export const PRIORITY_BANDS = ['high', 'normal', 'low'] as const;
export type PriorityBand = (typeof PRIORITY_BANDS)[number];

/** A name's band (its index in PRIORITY_BANDS) from its first character, the priority complement's thousands (0-2: high, 3-6: normal, 7-9: low): no parse. */
export function bandOf(name: string): number {
  const d = name.charCodeAt(0) - 48;
  return d <= 2 ? 0 : d <= 6 ? 1 : 2;
}
