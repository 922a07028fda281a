// A queue kept at a size: echo tasks submitted in bulk, "queued" = submitted less finished
// (as the observer saw them finish, so keeping count costs ZooKeeper nothing). Valid for a
// cluster whose only tasks are this backlog's.
import type { BenchCluster } from './cluster.js';

export class Backlog {
  submitted = 0;

  constructor(
    private readonly c: BenchCluster,
    private readonly prefix: string,
  ) {}

  queued(): number {
    return this.submitted - this.c.doneCount;
  }

  /** Submits until `target` are queued; `progress` hears every 100 000. Returns tasks/s (NaN if none were needed). */
  async fill(target: number, progress?: (submitted: number) => void): Promise<number> {
    const need = target - this.queued();
    if (need <= 0) return NaN;
    const chunk = 5000;
    const t0 = performance.now();
    for (let i = 0; i < need; i += chunk) {
      const n = Math.min(chunk, need - i);
      const base = this.submitted;
      await this.c.client.submitMany(Array.from({ length: n }, (_, k) => ({ type: 'echo', id: `${this.prefix}${base + k}`, payload: {} })));
      this.submitted += n;
      if (progress && Math.floor(this.submitted / 100_000) > Math.floor(base / 100_000)) progress(this.submitted);
    }
    return need / ((performance.now() - t0) / 1000);
  }
}
