// ZooKeeper's own ceiling on this machine: raw pipelined creates with the same client library
// drover uses (node-zookeeper-client), against the same server, a fixed number in flight.
// Also the JVM warm-up that comes first: a few seconds of creates and deletes, not measured,
// so the JIT has compiled the request path before anything is timed.
import zookeeper from 'node-zookeeper-client';

type Client = zookeeper.Client;

function connect(connectString: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = zookeeper.createClient(connectString, { sessionTimeout: 10_000, retries: 0 });
    const timer = setTimeout(() => {
      c.close();
      reject(new Error(`ceiling: no ZooKeeper session at ${connectString} within 10 s`));
    }, 10_000);
    c.once('connected', () => {
      clearTimeout(timer);
      resolve(c);
    });
    c.connect();
  });
}

const create = (c: Client, path: string, data: Buffer) =>
  new Promise<void>((resolve, reject) => c.create(path, data, (e) => (e ? reject(e) : resolve())));
const remove = (c: Client, path: string) => new Promise<void>((resolve, reject) => c.remove(path, -1, (e) => (e ? reject(e) : resolve())));

/** Runs `op(i)` for i in [0, n) with at most `inFlight` outstanding; resolves when all have. */
async function pipelined(n: number, inFlight: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
}

export interface CeilingOptions {
  creates: number;
  inFlight: number;
  dataBytes: number;
}

export class ZkCeiling {
  private constructor(private readonly c: Client) {}

  static async open(connectString: string): Promise<ZkCeiling> {
    return new ZkCeiling(await connect(connectString));
  }

  /** Creates and deletes for `ms` (not measured), in batches of 2 000. */
  async warmUp(ms: number, o: CeilingOptions): Promise<number> {
    const dir = `/bench-warmup-${process.pid}`;
    await create(this.c, dir, Buffer.alloc(0));
    const data = Buffer.alloc(o.dataBytes, 'x');
    const end = Date.now() + ms;
    let done = 0;
    for (let round = 0; Date.now() < end; round++) {
      await pipelined(2000, o.inFlight, (i) => create(this.c, `${dir}/n${round}-${i}`, data));
      await pipelined(2000, o.inFlight, (i) => remove(this.c, `${dir}/n${round}-${i}`));
      done += 4000;
    }
    await remove(this.c, dir);
    return done;
  }

  /** One measured run: creates per second of `o.creates` pipelined creates (then removed, not timed). */
  async run(label: string, o: CeilingOptions): Promise<number> {
    const dir = `/bench-ceiling-${process.pid}-${label}`;
    await create(this.c, dir, Buffer.alloc(0));
    const data = Buffer.alloc(o.dataBytes, 'x');
    const t0 = performance.now();
    await pipelined(o.creates, o.inFlight, (i) => create(this.c, `${dir}/n${i}`, data));
    const s = (performance.now() - t0) / 1000;
    await pipelined(o.creates, o.inFlight, (i) => remove(this.c, `${dir}/n${i}`));
    await remove(this.c, dir);
    return o.creates / s;
  }

  close(): void {
    this.c.close();
  }
}
