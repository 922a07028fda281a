// Packing reads into requests whose replies stay within a budget: the leader's held reads,
// the worker's burst and verify reads and the client's waits all group this way.

/**
 * Splits items, in order, into groups whose estimated sizes add up to at most `budget` and
 * that hold at most `maxPer` items each (an item bigger than the budget goes alone).
 */
export function packBySize<T>(items: readonly T[], bytes: (t: T) => number, budget: number, maxPer: number): T[][] {
  const groups: T[][] = [];
  let cur: T[] = [];
  let sum = 0;
  for (const it of items) {
    const b = bytes(it);
    if (cur.length > 0 && (sum + b > budget || cur.length >= maxPer)) {
      groups.push(cur);
      cur = [];
      sum = 0;
    }
    cur.push(it);
    sum += b;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}
