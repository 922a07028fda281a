#!/usr/bin/env node
// The only place that exits the process: after stdout has drained (main() resolves with the
// code, also on a second SIGINT/SIGTERM, which does not wait for the graceful stop).
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
