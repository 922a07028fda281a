// A TCP proxy in front of one ZooKeeper server that reads the client's request frames, so a
// fault can start at one chosen request (the leader's assign multi, the read of one record)
// instead of at a moment in time. Replies and events (server to client) pass untouched
// unless a drop is on.
//   holdFrom(match): from the first request that matches on, what the client sends is held
//     (in order), until release() sends it on: the request and everything after it reach the
//     server late, in their order, on the same connection (no reconnect, no loss).
//   dropFrom(match): from the first request that matches on, that connection goes silent both
//     ways (its requests never reach the server, no reply or event comes back), and new
//     connections are held silent as well, until heal() destroys the silent ones.
import net from 'node:net';

/** ZooKeeper opcodes a test may match on. */
export const OP = { exists: 3, getData: 4, create: 1, delete: 2, setData: 5, getChildren2: 12, multi: 14, multiRead: 22, ping: 11 } as const;

export interface FrameMatch {
  op: number;
  /** A string the request's bytes must hold (a path, a task id). */
  contains?: string;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  buf: Buffer;
  /** The connect request (no request header) has passed. */
  connected: boolean;
  silent: boolean;
}

type Trigger = { kind: 'hold' | 'drop'; match: FrameMatch; fired: () => void };

export class OpProxy {
  readonly connectString: string;
  private readonly pairs = new Set<Pair>();
  private trigger: Trigger | null = null;
  /** Frames held since a hold fired, with the connection they go to. */
  private held: Array<{ pair: Pair; frame: Buffer; op: number }> | null = null;
  private dropping = false;

  private constructor(
    private readonly server: net.Server,
    private readonly host: string,
    private readonly port: number,
  ) {
    this.connectString = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    server.on('connection', (s) => this.accept(s));
  }

  static async start(connect: string): Promise<OpProxy> {
    const [host, port] = connect.split(',')[0]!.split(':');
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    return new OpProxy(server, host!, Number(port));
  }

  /** Resolves when a request matching `match` came and the hold began. */
  holdFrom(match: FrameMatch): Promise<void> {
    return new Promise((fired) => (this.trigger = { kind: 'hold', match, fired }));
  }
  /** How many requests of `op` are held now. */
  heldCount(op: number): number {
    return this.held?.filter((h) => h.op === op).length ?? 0;
  }
  /** Sends what was held, in order, and forwards as usual from then on. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const h of held) if (!h.pair.silent) h.pair.upstream?.write(h.frame);
  }

  /** Resolves when a request matching `match` came and the connection went silent. */
  dropFrom(match: FrameMatch): Promise<void> {
    return new Promise((fired) => (this.trigger = { kind: 'drop', match, fired }));
  }
  /** Ends the drop: silent connections are destroyed (clients reconnect), new ones work. */
  heal(): void {
    this.dropping = false;
    for (const p of [...this.pairs]) if (p.silent) this.destroy(p);
  }

  async stop(): Promise<void> {
    this.trigger = null;
    this.held = null;
    for (const p of [...this.pairs]) this.destroy(p);
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private destroy(p: Pair): void {
    this.pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  }

  private accept(client: net.Socket): void {
    client.on('error', () => {});
    const pair: Pair = { client, upstream: null, buf: Buffer.alloc(0), connected: false, silent: this.dropping };
    this.pairs.add(pair);
    client.on('close', () => this.destroy(pair));
    if (pair.silent) return void client.on('data', () => {});
    const upstream = net.connect({ host: this.host, port: this.port });
    pair.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => {
      if (!pair.silent) this.destroy(pair);
    });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    upstream.on('data', (chunk) => {
      if (!pair.silent && !client.destroyed) client.write(chunk);
    });
    client.on('data', (chunk) => this.fromClient(pair, chunk));
  }

  /** Splits the client's bytes into frames (4-byte length, then the body) and routes each. */
  private fromClient(pair: Pair, chunk: Buffer): void {
    pair.buf = Buffer.concat([pair.buf, chunk]);
    while (pair.buf.length >= 4) {
      const len = pair.buf.readInt32BE(0);
      if (pair.buf.length < 4 + len) return;
      const frame = pair.buf.subarray(0, 4 + len);
      pair.buf = pair.buf.subarray(4 + len);
      // The first frame is the connect request; every later one starts with xid, then opcode.
      const op = pair.connected && len >= 8 ? frame.readInt32BE(8) : -1;
      pair.connected = true;
      this.route(pair, Buffer.from(frame), op);
    }
  }

  private route(pair: Pair, frame: Buffer, op: number): void {
    if (pair.silent) return;
    const t = this.trigger;
    if (t && op === t.match.op && (t.match.contains === undefined || frame.includes(t.match.contains))) {
      this.trigger = null;
      if (t.kind === 'hold') this.held = [];
      else {
        this.dropping = true;
        pair.silent = true;
      }
      t.fired();
      if (pair.silent) return;
    }
    if (this.held) this.held.push({ pair, frame, op });
    else pair.upstream?.write(frame);
  }
}
