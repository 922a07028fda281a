/**
 * Runs an async job one at a time; calls that arrive while it runs coalesce into one more
 * run after it. Watches fire for "something changed", so one re-read covers any number of
 * them.
 */
export class Coalescer {
  private running = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly job: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.loop();
  }

  /** Resolves when no run is in progress. */
  settled(): Promise<void> {
    return this.idle;
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          await this.job();
        } catch (err) {
          this.onError(err);
        }
      } while (this.again);
    } finally {
      this.running = false;
    }
  }
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Lets pending I/O (socket reads, heartbeats) run before the caller goes on with a long job. */
export const yieldToIo = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
