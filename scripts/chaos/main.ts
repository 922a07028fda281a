// `npm run chaos -- [--tasks N] [--seconds S] [--seed X] [--json]`: one chaos run against a
// real 3-server ZooKeeper ensemble and real drover processes; prints the summary and exits
// 0 on PASS, 1 on FAIL (2 when the run itself could not be carried out).
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ChaosRun } from './runner.js';
import { formatSummary } from './summary.js';

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('chaos')
    .strict()
    .option('tasks', { type: 'number', default: 1000, describe: 'tasks to submit' })
    .option('seconds', { type: 'number', default: 60, describe: 'length of the fault phase' })
    .option('seed', { type: 'number', describe: 'PRNG seed (default: from the clock)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
    .option('overlap', { type: 'boolean', default: false, describe: 'run a second fault schedule at the same time' })
    .option('task-ms', { type: 'string', default: '20-300', describe: 'handler sleep range, ms' })
    .help()
    .parseAsync();
  const seed = argv.seed ?? Date.now() % 1_000_000;
  const [lo, hi] = argv['task-ms'].split('-').map(Number);
  const run = new ChaosRun({ tasks: argv.tasks, seconds: argv.seconds, seed, taskMs: [lo!, hi ?? lo!], overlap: argv.overlap });
  const onSignal = () => void run.abort().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const report = await run.run();
    process.stdout.write((argv.json ? JSON.stringify(report, null, 2) : formatSummary(report)) + '\n');
    return report.pass ? 0 : 1;
  } catch (err) {
    process.stderr.write(`chaos: the run failed: ${(err as Error).stack ?? err}\n`);
    return 2;
  }
}

const code = await main();
process.stdout.write('', () => process.exit(code));
