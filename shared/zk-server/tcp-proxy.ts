import net from 'node:net';

export type CutMode = 'close' | 'blackhole' | 'deaf' | 'unready';

interface Pair {
  client: net.Socket;
  upstream: net.Socket | null;
  /** Bytes are dropped both ways and closes are not passed on. */
  blackholed: boolean;
  /** Requests reach the target, replies are dropped (a reply lost on its way back). */
  deaf: boolean;
  /** Accepted while 'unready': held without a word, even after heal(). */
  unready?: boolean;
}

/**
 * A real TCP proxy between clients and one target (e.g. a ZooKeeper server), for fault
 * tests that a client library cannot fake:
 * - cut('close'): every connection is destroyed (clients see a reset/close) and new ones
 *   are accepted and destroyed at once, until heal().
 * - cut('blackhole'): sockets stay open but no byte passes either way and no close is
 *   passed on (a silent network); new connections are held the same way. heal() destroys
 *   the blackholed connections so clients reconnect through a working path.
 * - cut('deaf'): what clients send reaches the target, nothing comes back: a request is
 *   carried out and its reply lost. heal() destroys these connections too.
 * - cut('unready'): as a ZooKeeper that is starting up can do, new connections are accepted
 *   and never answered; open ones are left as they are. heal() makes new connections work
 *   and leaves the unanswered ones unanswered (only the client can give up on them).
 */
export class TcpProxy {
  readonly connectString: string;
  private mode: CutMode | null = null;
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {
    this.connectString = `127.0.0.1:${port}`;
    server.on('connection', (s) => this.accept(s));
  }

  static async start(targetHost: string, targetPort: number, listenPort = 0): Promise<TcpProxy> {
    const server = net.createServer({ pauseOnConnect: false });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: listenPort }, () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    return new TcpProxy(server, port, targetHost, targetPort);
  }

  /** Connections currently held (forwarding or blackholed). */
  get connections(): number {
    return this.pairs.size;
  }

  get state(): 'open' | CutMode {
    return this.mode ?? 'open';
  }

  cut(mode: CutMode): void {
    this.mode = mode;
    if (mode === 'unready') return;
    for (const p of this.pairs) {
      if (mode === 'close') this.destroy(p);
      else if (mode === 'deaf') p.deaf = true;
      else p.blackholed = true;
    }
  }

  heal(): void {
    this.mode = null;
    for (const p of this.pairs) if ((p.blackholed && !p.unready) || p.deaf) this.destroy(p);
  }

  async stop(): Promise<void> {
    this.mode = 'close';
    for (const p of this.pairs) this.destroy(p);
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private destroy(p: Pair): void {
    this.pairs.delete(p);
    p.client.destroy();
    p.upstream?.destroy();
  }

  private accept(client: net.Socket): void {
    client.on('error', () => {});
    if (this.mode === 'close') {
      client.destroy();
      return;
    }
    const unready = this.mode === 'unready';
    const pair: Pair = { client, upstream: null, blackholed: this.mode === 'blackhole' || unready, deaf: this.mode === 'deaf', unready };
    this.pairs.add(pair);
    if (pair.blackholed) {
      // Held open, read and dropped: the client sees a connect and then silence.
      client.on('data', () => {});
      client.on('close', () => this.pairs.delete(pair));
      return;
    }
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort });
    pair.upstream = upstream;
    upstream.on('error', () => {});
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.forward(pair, client, upstream);
    this.forward(pair, upstream, client);
  }

  /** One direction, with backpressure; drops everything while the pair is blackholed. */
  private forward(pair: Pair, from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk) => {
      if (pair.blackholed || to.destroyed || (pair.deaf && to === pair.client)) return;
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => {
      if (!pair.blackholed) to.end();
    });
    from.on('close', () => {
      if (pair.blackholed) {
        // Silent network: the other side must not learn of it until heal().
        if (from === pair.client) this.destroy(pair);
        return;
      }
      this.destroy(pair);
    });
  }
}
