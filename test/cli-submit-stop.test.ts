// `drover submit` ended early: a Ctrl-C while a batch is in flight names the confirmed tasks
// and those that may have gone in; an error after the progress bar started restores the
// terminal (cursor shown, line wrap back on). A real ZooKeeper behind an OpProxy that holds
// the chosen multi, and a real pseudo-terminal.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../cli/exit-codes.js';
import { startCluster, type TestCluster } from './harness/cluster.js';
import { runInTerminal, startCli } from './harness/cli-run.js';
import { OP, OpProxy } from './harness/op-proxy.js';
import { tempDir } from './harness/temp.js';
import { waitFor } from './harness/wait-for.js';
import { zkConnect } from './harness/zk.js';

let cluster: TestCluster | undefined;
beforeAll(async () => {
  cluster = await startCluster({ masters: 0 });
});
afterAll(async () => {
  await cluster?.stop();
});

const args = (zk: string) => ['--zk', zk, '--root', cluster!.paths.root, '--session-timeout', '2s'];
const tasksFile = (prefix: string, n: number) => {
  const file = join(tempDir('drover-submit-'), 'tasks.jsonl');
  writeFileSync(file, Array.from({ length: n }, (_, i) => JSON.stringify({ type: 'echo', id: `${prefix}-${i}`, payload: i })).join('\n') + '\n');
  return file;
};

/** Starts `drover submit …` through a proxy holding the multi that carries `held`, and Ctrl-Cs it once that multi is held. */
async function interruptedAt(held: string, submitArgs: string[]): Promise<{ code: number | null; stderr: string }> {
  const proxy = await OpProxy.start(zkConnect());
  try {
    const holding = proxy.holdFrom({ op: OP.multi, contains: held });
    const p = startCli(['submit', ...submitArgs, ...args(proxy.connectString)], { env: { TMPDIR: tempDir('drover-hint-') } });
    try {
      await holding;
      p.child.kill('SIGINT');
      await waitFor(() => p.stderr().includes('in flight'), { message: 'the interrupt line' });
      proxy.release(); // the session's close may pass
      return await p.done;
    } finally {
      p.kill();
    }
  } finally {
    proxy.release();
    await proxy.stop();
  }
}

describe('submit interrupted', () => {
  it('a single submit: its own id may have gone in', async () => {
    const r = await interruptedAt('si-one', ['echo', '--id', 'si-one', '--payload', '1']);
    expect(r.code).toBe(EXIT.interrupted);
    expect(r.stderr).toBe('drover: interrupted (SIGINT) while submitting: 0 of 1 submitted\ndrover: task in flight may have been submitted (drover get ID tells): si-one\n');
  });

  it('a --file submit: the confirmed ones to re-attach to, and the batch in flight', async () => {
    const r = await interruptedAt('"sm-210"', ['--file', tasksFile('sm', 250)]);
    expect(r.code).toBe(EXIT.interrupted);
    const m = /^drover: interrupted \(SIGINT\) while submitting: 200 of 250 submitted; 200 tasks not finished yet: they stay submitted and go on\. Re-attach with: drover wait - < (\S+) \(200 ids\)\ndrover: 50 tasks in flight may have been submitted \(drover get ID tells\): ids in (\S+)\n$/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `sm-${from + i}`);
    expect(readFileSync(m![1]!, 'utf8').trim().split('\n')).toEqual(ids(0, 200));
    expect(readFileSync(m![2]!, 'utf8').trim().split('\n')).toEqual(ids(200, 250));
  });
});

describe('submit failing after the bar started', () => {
  it('stops the bar: the cursor is shown and line wrap is back on', async () => {
    // A record at sm2-240 that cannot be read: the second batch falls back to one by one and fails there.
    await cluster!.admin.create(cluster!.paths.task('fb-240'), Buffer.from('{not json'));
    const out = join(tempDir('drover-fb-'), 'out.txt');
    const r = await runInTerminal(['submit', '--file', tasksFile('fb', 250), '--wait', ...args(zkConnect())], { stdoutFile: out });
    expect(r.code, r.output).toBe(EXIT.error);
    expect(r.output).toContain('task fb-240 exists but cannot be read');
    const hid = r.output.indexOf('\x1b[?25l');
    expect(hid, 'the bar started').toBeGreaterThanOrEqual(0);
    expect(r.output.lastIndexOf('\x1b[?25h')).toBeGreaterThan(hid);
    expect(r.output.lastIndexOf('\x1b[?7h')).toBeGreaterThan(r.output.lastIndexOf('\x1b[?7l'));
  });
});
