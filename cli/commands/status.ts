import type { Argv } from 'yargs';
import { globalOptions, printJson, withClient, type GlobalArgs } from '../common.js';
import { EXIT, type ExitCode } from '../exit-codes.js';

export const command = 'status';
export const describe = 'show the leader, masters, workers (state, load), queue depth and counts';

export function builder(y: Argv): Argv<GlobalArgs> {
  return globalOptions(y);
}

export async function handler(argv: GlobalArgs): Promise<ExitCode> {
  return withClient(argv, async (client) => {
    const s = await client.status();
    if (argv.json) {
      printJson(s);
      return EXIT.ok;
    }
    const out: string[] = [];
    out.push(`root:        ${s.root}`);
    out.push(`leader:      ${s.leader ? `${s.leader.id} (epoch ${s.leader.epoch}, ${s.leader.host} pid ${s.leader.pid})` : 'none'}`);
    out.push(`masters:     ${s.masters.map((m) => (m.leader ? `${m.id}*` : m.id)).join(', ') || 'none'}`);
    out.push(`workers:     ${s.workers.length}`);
    for (const w of s.workers) out.push(`  ${w.id}\t${w.state}\tload ${w.load}/${w.capacity}\t${w.host} pid ${w.pid}\t${w.name}`);
    out.push(`queued:      ${s.queue.depth}`);
    if (s.waiting.length > 0) {
      const sampled = s.waitingSample.read < s.waitingSample.of ? ` (estimated from ${s.waitingSample.read} of ${s.waitingSample.of} queued)` : '';
      out.push(`waiting:     ${s.waiting.reduce((n, w) => n + w.count, 0)} queued tasks no live worker can take${sampled}`);
      for (const w of s.waiting) {
        const labels = Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';
        out.push(`  ${w.type}\tlabels ${labels}\t${w.count}\t${w.reason}`);
      }
    }
    out.push(`in progress: ${s.inProgress}`);
    out.push(`finished:    ${s.finished} (kept until retention)`);
    process.stdout.write(out.join('\n') + '\n');
    return EXIT.ok;
  }, { readOnly: true });
}
