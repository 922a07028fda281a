// What the bench's child entries (master-entry.ts, worker-entry.ts) share: their stdout is a
// stream of JSON lines for the bench (`{"ev":…,"t":…}`), their logs go to stderr (a file the
// bench keeps), SIGUSR2 prints this process's ZooKeeper request counters (a signal, so asking
// costs ZooKeeper nothing), SIGTERM stops gracefully and prints them a last time.
import { pino, type Logger } from 'pino';
import { readZkCounters } from './counters.js';
import { now } from './zk-probe.js';

export function emit(ev: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ ev, t: now(), ...fields }) + '\n');
}

/** Warnings and errors of drover's own logger, to stderr. */
export function stderrLogger(): Logger {
  return pino({ level: process.env.DROVER_LOG_LEVEL ?? 'warn', base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
}

/** The entry's JSON argument (argv[2]). */
export function entryArgs<T>(): T {
  const raw = process.argv[2];
  if (!raw) throw new Error('usage: node <entry>.js <json options>');
  return JSON.parse(raw) as T;
}

/** Wires the signals and fatal errors; `stop` is the graceful stop (bounded by `stopDeadlineMs`). */
export function runEntry(stop: () => Promise<void>, stopDeadlineMs = 15_000): void {
  process.on('SIGUSR2', () => emit('counters', { c: readZkCounters() }));
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) process.exit(130);
    stopping = true;
    const timer = setTimeout(() => {
      emit('error', { msg: `graceful stop took over ${stopDeadlineMs} ms` });
      process.exit(1);
    }, stopDeadlineMs);
    void stop().then(
      () => {
        clearTimeout(timer);
        emit('counters', { c: readZkCounters() });
        emit('stopped');
        process.stdout.write('', () => process.exit(0));
      },
      (err) => {
        emit('error', { msg: `stop failed: ${(err as Error).message}` });
        process.exit(1);
      },
    );
  });
  const fatal = (err: unknown) => {
    emit('error', { msg: err instanceof Error ? err.stack ?? err.message : String(err) });
    process.stdout.write('', () => process.exit(1));
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}
