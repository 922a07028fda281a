// "Can an operator still look?": the installed server's own CLI (zkCli.sh, found as the jar
// is) lists a directory of each kind, and the bench compares its count with its own listing
// and prints the reply's size (the ZooKeeper client refuses a reply over jute.maxbuffer, 1 MiB).
import { spawn } from 'node:child_process';
import { findZkCli } from '../../shared/zk-server/launcher.js';
import type { ZkProbe } from './zk-probe.js';

export interface LsCheck {
  kind: string;
  path: string;
  /** Children as zkCli.sh printed them; null when it failed. */
  cliCount: number | null;
  /** Children in the bench's own listing, and the bytes of that reply. */
  count: number;
  replyBytes: number;
  error?: string;
}

function runCli(cli: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLIENT_JVMFLAGS: '-Xmx512m' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, out: e.message });
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** zkCli.sh `ls path`: the number of children it printed, or the reason it printed none. */
export async function zkCliLs(connectString: string, path: string): Promise<{ count: number } | { error: string }> {
  const cli = findZkCli();
  if (!cli) return { error: 'no zkCli.sh (ZOOKEEPER_HOME/bin or /usr/share/zookeeper/bin)' };
  const { code, out } = await runCli(cli, ['-server', connectString, 'ls', path], 60_000);
  // Its last bracketed line is the listing; errors (a reply over jute.maxbuffer, say) are other lines.
  const line = out
    .split('\n')
    .map((l) => l.trim())
    .reverse()
    .find((l) => l.startsWith('[') && l.endsWith(']'));
  if (line === undefined) {
    const why = out.split('\n').find((l) => /Exception|Error|refused|not exist/i.test(l)) ?? `exit ${code}`;
    return { error: why.trim().slice(0, 200) };
  }
  return { count: line === '[]' ? 0 : line.slice(1, -1).split(', ').length };
}

export async function lsCheck(probe: ZkProbe, connectString: string, kind: string, path: string): Promise<LsCheck> {
  const own = await probe.children(path);
  const cli = await zkCliLs(connectString, path);
  return {
    kind,
    path,
    count: own.names.length,
    replyBytes: own.replyBytes,
    cliCount: 'count' in cli ? cli.count : null,
    ...('error' in cli ? { error: cli.error } : {}),
  };
}

/** The biggest reply over `dirs` (one listing each, outside any measured window). */
export async function largestListing(probe: ZkProbe, dirs: readonly string[]): Promise<{ path: string; count: number; replyBytes: number }> {
  let best = { path: '', count: 0, replyBytes: 0 };
  for (const d of dirs) {
    const r = await probe.children(d);
    if (r.replyBytes > best.replyBytes) best = { path: d, count: r.names.length, replyBytes: r.replyBytes };
  }
  return best;
}
