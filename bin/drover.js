#!/usr/bin/env node
// The only place that exits the process: after stdout has drained.
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.exit(code));
