// The bench's observer: a minimal ZooKeeper client of its own (the wire protocol, ~150 lines)
// that arms persistent recursive watches (addWatch, ZooKeeper 3.6+) and timestamps every
// event. It is deliberately not drover's ZkSession nor the client library: the code measured
// is changing, and the observer must neither depend on it nor load the server while it
// watches. A watch costs one request; after that the server pushes one notification per
// change, so learning every outcome costs no request at all (no polling). It counts every
// packet it sends, so the bench can take them out of the server's totals.
import net from 'node:net';

export type ProbeEventType = 'created' | 'deleted' | 'changed' | 'children';
export interface ProbeEvent {
  type: ProbeEventType;
  path: string;
  /** performance.timeOrigin + performance.now() when the notification was read: ms, sub-ms resolution. */
  t: number;
}

const OP = { getChildren: 8, ping: 11, closeSession: -11, addWatch: 106 } as const;
const XID_NOTIFICATION = -1;
const XID_PING = -2;
const EVENT_TYPES: Record<number, ProbeEventType> = { 1: 'created', 2: 'deleted', 3: 'changed', 4: 'children' };

export const now = (): number => performance.timeOrigin + performance.now();

class Writer {
  private parts: Buffer[] = [];
  int(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  long0(): this {
    this.parts.push(Buffer.alloc(8));
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.int(b.length);
    this.parts.push(b);
    return this;
  }
  bool(v: boolean): this {
    this.parts.push(Buffer.from([v ? 1 : 0]));
    return this;
  }
  framed(): Buffer {
    const body = Buffer.concat(this.parts);
    const len = Buffer.alloc(4);
    len.writeInt32BE(body.length);
    return Buffer.concat([len, body]);
  }
}

interface Pending {
  resolve: (body: Buffer) => void;
  reject: (e: Error) => void;
}

export class ZkProbe {
  /** Packets this probe sent (connect, requests, pings): the bench subtracts them from the server's count. */
  packetsSent = 0;
  private sock!: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private connected = false;
  private xid = 1;
  private readonly pending = new Map<number, Pending>();
  private pingTimer?: NodeJS.Timeout;
  private readonly listeners = new Set<(e: ProbeEvent) => void>();
  private closedError: Error | null = null;

  private constructor(private readonly sessionTimeoutMs: number) {}

  /** Connects to one server (`host:port`, the first of a connect string). */
  static async open(connectString: string, sessionTimeoutMs = 10_000, timeoutMs = 10_000): Promise<ZkProbe> {
    const [host, port] = connectString.split(',')[0]!.split(':');
    const p = new ZkProbe(sessionTimeoutMs);
    await p.connect(host!, Number(port), timeoutMs);
    return p;
  }

  private connect(host: string, port: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.sock.destroy();
        reject(new Error(`probe: no connect reply from ${host}:${port} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.sock = net.connect({ host, port }, () => {
        // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
        this.send(new Writer().int(0).long0().int(this.sessionTimeoutMs).long0().int(16).long0().long0().bool(false).framed());
      });
      this.sock.setNoDelay(true);
      this.sock.on('data', (d: Buffer) => {
        this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
        while (this.buf.length >= 4) {
          const len = this.buf.readInt32BE(0);
          if (this.buf.length < 4 + len) break;
          const frame = this.buf.subarray(4, 4 + len);
          this.buf = this.buf.subarray(4 + len);
          if (!this.connected) {
            clearTimeout(timer);
            const granted = frame.readInt32BE(4);
            if (granted <= 0) return reject(new Error('probe: session refused'));
            this.connected = true;
            // The server expires a session it hears nothing from: ping at a third of the timeout.
            this.pingTimer = setInterval(() => this.send(new Writer().int(XID_PING).int(OP.ping).framed()), Math.max(100, granted / 3));
            resolve();
          } else {
            this.onFrame(frame);
          }
        }
      });
      const fail = (e: Error) => {
        clearTimeout(timer);
        this.closedError ??= e;
        clearInterval(this.pingTimer);
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
        reject(e);
      };
      this.sock.on('error', (e) => fail(new Error(`probe: ${e.message}`)));
      this.sock.on('close', () => fail(new Error('probe: connection closed (its events would be missed: the run is void)')));
    });
  }

  private send(frame: Buffer): void {
    this.packetsSent++;
    this.sock.write(frame);
  }

  private onFrame(frame: Buffer): void {
    const xid = frame.readInt32BE(0);
    const err = frame.readInt32BE(12);
    const body = frame.subarray(16);
    if (xid === XID_PING) return;
    if (xid === XID_NOTIFICATION) {
      const type = EVENT_TYPES[body.readInt32BE(0)];
      const len = body.readInt32BE(8);
      const path = body.toString('utf8', 12, 12 + len);
      if (!type) return;
      const e: ProbeEvent = { type, path, t: now() };
      for (const l of this.listeners) l(e);
      return;
    }
    const p = this.pending.get(xid);
    if (!p) return;
    this.pending.delete(xid);
    if (err !== 0) p.reject(new Error(`probe: request failed with ZooKeeper error ${err}`));
    else p.resolve(body);
  }

  private request(op: number, w: (x: Writer) => Writer): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError);
    const xid = this.xid++;
    const frame = w(new Writer().int(xid).int(op)).framed();
    return new Promise((resolve, reject) => {
      this.pending.set(xid, { resolve, reject });
      this.send(frame);
    });
  }

  /** Every event under `path` (itself included) goes to the listeners, until close(). One request. */
  async watchTree(path: string): Promise<void> {
    await this.request(OP.addWatch, (x) => x.str(path).int(1 /* PERSISTENT_RECURSIVE */));
  }

  on(listener: (e: ProbeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Children of `path`, and the size in bytes of the server's reply (frame included). No watch. */
  async children(path: string): Promise<{ names: string[]; replyBytes: number }> {
    const body = await this.request(OP.getChildren, (x) => x.str(path).bool(false));
    const n = body.readInt32BE(0);
    const names: string[] = [];
    let o = 4;
    for (let i = 0; i < n; i++) {
      const len = body.readInt32BE(o);
      names.push(body.toString('utf8', o + 4, o + 4 + len));
      o += 4 + len;
    }
    return { names, replyBytes: 4 + 16 + body.length };
  }

  /** Fails with the reason if the connection was lost (an observer that missed events). */
  assertAlive(): void {
    if (this.closedError) throw this.closedError;
  }

  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    this.listeners.clear();
    if (this.closedError || !this.connected) {
      this.sock?.destroy();
      return;
    }
    this.closedError = new Error('probe: closed');
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      this.sock.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.send(new Writer().int(this.xid++).int(OP.closeSession).framed());
      this.sock.end();
    });
    this.sock.destroy();
  }
}
