// A handler's progress reports, written to its assignment node: throttled (the latest value
// within each 250 ms window), fire-and-forget, capped like a result.
import type { Logger } from '../shared/log.js';
import type { ZkSession } from '../shared/zk/session.js';
import { jsonSize } from '../shared/util/json-size.js';

/** At most one progress write per this window (a sandbox coalesces its sends the same way). */
export const PROGRESS_INTERVAL_MS = 250;
/** The warn line of a progress value over its cap (the worker's and a sandbox's). */
export const PROGRESS_TOO_LARGE = 'progress value too large; not written';

export class ProgressWriter {
  private lastWrite = 0;
  private pending?: { value: unknown; at: number };
  private timer?: NodeJS.Timeout;
  /** The assignment node's own data, read once; progress is written over it. */
  private base?: Record<string, unknown>;
  private closed = false;

  constructor(
    private readonly session: ZkSession,
    private readonly key: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
    /** The node's data as read with its burst; without it, read at the first write. */
    private readonly initial?: Buffer,
  ) {}

  report(value: unknown): void {
    if (this.closed) return;
    this.pending = { value, at: Date.now() };
    const wait = this.lastWrite + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
      this.timer.unref();
    }
  }

  /** The attempt is over: nothing more is written. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private flush(): void {
    const pending = this.pending;
    if (!pending || this.closed) return;
    this.pending = undefined;
    this.lastWrite = Date.now();
    const session = this.session;
    void (async () => {
      if (!this.base) this.base = JSON.parse((this.initial ?? (await session.getData(this.key)).data).toString('utf8')) as Record<string, unknown>;
      const data = jsonSize({ ...this.base, progress: pending.value, progressAt: pending.at })!;
      // Capped like a result: an oversized write would cost the whole connection.
      if (data.bytes > this.maxBytes) {
        this.log.warn({ bytes: data.bytes, limit: this.maxBytes }, PROGRESS_TOO_LARGE);
        return;
      }
      await session.setData(this.key, Buffer.from(data.json, 'utf8'));
    })().catch((err) => this.log.debug({ err: (err as Error).message }, 'progress write failed (ignored)'));
  }
}
