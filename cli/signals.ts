// OS signals, handled in one place: the first SIGINT/SIGTERM asks for a graceful stop,
// a second one exits at once.
export function onShutdown(stop: (signal: string) => Promise<void>): Promise<string> {
  return new Promise((resolve) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`drover: second ${signal}, exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      void stop(signal).finally(() => resolve(signal));
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
