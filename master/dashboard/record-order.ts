// Which of two versions of one task's record is the newer, for the dashboard's lists (and a
// late or seeded read that must not bring an older one back): the retry count and the attempt
// first (they only grow, whoever writes), then updatedAt, the writer's clock, which may be
// off (a CLI host ahead by s seconds retries at t+s: a re-run failing within s is still newer).
export interface RecordVersion {
  retries?: number;
  attempt: number;
  updatedAt: number;
}

/** < 0: a is older; 0: the same version (as far as can be told); > 0: a is newer. */
export function compareVersions(a: RecordVersion, b: RecordVersion): number {
  return (a.retries ?? 0) - (b.retries ?? 0) || a.attempt - b.attempt || a.updatedAt - b.updatedAt;
}

/** The fields compared, kept instead of the record. */
export const versionOf = (r: RecordVersion): RecordVersion => ({ retries: r.retries ?? 0, attempt: r.attempt, updatedAt: r.updatedAt });
