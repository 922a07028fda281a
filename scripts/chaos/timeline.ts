// What the runner did and when: fault spans, process kills/stops/starts. The checker explains
// duplicate executions with the kills and attributes stalls to the faults; the whole timeline
// is kept as JSON lines next to the process logs.
import { appendFileSync } from 'node:fs';

export type FaultKind =
  | 'kill-leader'
  | 'kill-follower-master'
  | 'kill-worker'
  | 'leader-failpoints'
  | 'worker-failpoints'
  | 'drain-worker'
  | 'partition-worker'
  | 'partition-leader'
  | 'zk-kill-leader'
  | 'zk-kill-follower'
  | 'quorum-loss'
  | 'pause-leader'
  | 'pause-worker'
  | 'network-blip';

export const FAULT_KINDS: readonly FaultKind[] = [
  'kill-leader',
  'kill-follower-master',
  'kill-worker',
  'leader-failpoints',
  'worker-failpoints',
  'drain-worker',
  'partition-worker',
  'partition-leader',
  'zk-kill-leader',
  'zk-kill-follower',
  'quorum-loss',
  'pause-leader',
  'pause-worker',
  'network-blip',
];

export interface FaultSpan {
  kind: FaultKind;
  start: number;
  end: number;
  detail: string;
  /** What the runner checked while injecting (e.g. the cut leader stepped down). */
  verified?: boolean;
  note?: string;
}

/** How a process ended: by the runner (kill -9, SIGTERM) or by itself (a failpoint, a crash). */
export interface ProcessEnd {
  slot: string;
  pid: number;
  at: number;
  how: 'kill9' | 'sigterm' | 'failpoint' | 'exit';
  code: number | null;
  signal: string | null;
}

export class Timeline {
  readonly t0 = Date.now();
  readonly faults: FaultSpan[] = [];
  /** Faults being injected now (more than one when schedules overlap). */
  readonly active = new Set<{ kind: FaultKind; start: number }>();
  readonly ends: ProcessEnd[] = [];
  /** pid → slot and worker capacity, for every process ever started. */
  readonly pids = new Map<number, { slot: string; role: 'master' | 'worker'; capacity: number; startedAt: number; failpoints?: string }>();

  constructor(
    private readonly file: string | null,
    private readonly say: (line: string) => void,
  ) {}

  rel(at: number): string {
    return `+${((at - this.t0) / 1000).toFixed(1)}s`;
  }

  note(msg: string, data: Record<string, unknown> = {}): void {
    const at = Date.now();
    this.say(`[chaos ${this.rel(at)}] ${msg}`);
    this.write({ at, msg, ...data });
  }

  fault(span: FaultSpan): void {
    this.faults.push(span);
    this.note(`fault ${span.kind} done (${((span.end - span.start) / 1000).toFixed(1)}s): ${span.detail}${span.note ? ` [${span.note}]` : ''}`, { fault: span });
  }

  processEnd(e: ProcessEnd): void {
    this.ends.push(e);
    this.write({ msg: 'process end', ...e });
  }

  private write(obj: Record<string, unknown>): void {
    if (this.file) appendFileSync(this.file, JSON.stringify(obj) + '\n');
  }
}
