// OS signals, handled in one place: the first SIGINT/SIGTERM asks for a graceful stop, a
// second one asks to exit at once: `forcedExit` resolves with EXIT.interrupted, main()
// returns it without waiting for the stop, and bin/drover.js (the only place that exits the
// process) exits with it.
import { EXIT, type ExitCode } from './exit-codes.js';

let force!: (code: ExitCode) => void;
/** Resolves on a second SIGINT/SIGTERM while a graceful stop is under way. */
export const forcedExit = new Promise<ExitCode>((resolve) => (force = resolve));

export function onShutdown(stop: (signal: string) => Promise<void>): Promise<string> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`drover: second ${signal}, exiting now\n`);
        force(EXIT.interrupted);
        return;
      }
      stopping = true;
      void stop(signal).finally(() => resolve(signal));
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}

/**
 * For commands that wait (submit --wait, wait): the first SIGINT/SIGTERM calls `fn` (which
 * says what goes on without us and ends the command with EXIT.interrupted); the returned
 * function takes the handlers off again.
 */
export function onInterrupt(fn: (signal: NodeJS.Signals) => void): () => void {
  let fired = false;
  const handler = (signal: NodeJS.Signals) => {
    if (fired) return;
    fired = true;
    fn(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
