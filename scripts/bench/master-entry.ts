// A bench child: one drover Master built from the library (as `drover master` does), saying
// its state changes on stdout as JSON lines (entry-io.ts).
import { Master } from '../../index.js';
import { emit, entryArgs, runEntry, stderrLogger } from './entry-io.js';

interface MasterEntryArgs {
  connectString: string;
  root: string;
  id: string;
  sessionTimeoutMs: number;
}

const a = entryArgs<MasterEntryArgs>();
const master = new Master({ connectString: a.connectString, root: a.root, id: a.id, sessionTimeoutMs: a.sessionTimeoutMs, log: stderrLogger() });
master.on('state', (state) => emit('state', { state }));
runEntry(() => master.stop());
await master.start();
emit('up', { pid: process.pid });
