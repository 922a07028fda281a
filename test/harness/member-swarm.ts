// A child process holding many worker member sessions (test/fixtures/member-swarm.mjs), so the
// test process's zkCounters count only the leader's side. Commands go one at a time; kill9()
// kills every member it holds at once (their sessions expire on the server).
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { guardChild } from '../../shared/zk-server/orphan-guard.js';
import type { Paths } from '../../shared/protocol/paths.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'member-swarm.mjs');

export class MemberSwarm {
  private buf = '';
  private readonly waiting: Array<(line: string) => void> = [];
  private chain: Promise<unknown> = Promise.resolve();
  readonly exited: Promise<void>;
  private alive = true;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (chunk: Buffer) => {
      this.buf += chunk.toString('utf8');
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.exited = new Promise((r) => child.once('exit', () => ((this.alive = false), r())));
  }

  static start(connectString: string, paths: Paths, sessionTimeoutMs = 2000): MemberSwarm {
    const child = spawn(process.execPath, [FIXTURE, connectString, paths.workers, paths.assign, String(sessionTimeoutMs)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    guardChild(child.pid!);
    return new MemberSwarm(child);
  }

  private send<T>(msg: object, timeoutMs = 30_000): Promise<T> {
    const run = () =>
      new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`member swarm: no answer to ${JSON.stringify(msg).slice(0, 80)} within ${timeoutMs} ms`)), timeoutMs);
        this.waiting.push((line) => {
          clearTimeout(t);
          const r = JSON.parse(line) as T & { error?: string };
          if (r.error) reject(new Error(`member swarm: ${r.error}`));
          else resolve(r);
        });
        this.child.stdin!.write(`${JSON.stringify(msg)}\n`);
      });
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Registers members `ids` (each its own session); resolves with their member names. */
  async join(ids: string[], capacity = 4): Promise<string[]> {
    return (await this.send<{ joined: string[] }>({ cmd: 'join', ids, capacity })).joined;
  }
  /** Closes those members' sessions: their nodes go at once. */
  async leave(names: string[]): Promise<void> {
    await this.send({ cmd: 'leave', names });
  }
  async update(names: string[], state: string): Promise<void> {
    await this.send({ cmd: 'update', names, state });
  }

  async kill9(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Closes every session it holds and waits for the process to end (kill -9 after 5 s). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
