import net from 'node:net';

/**
 * Sends a ZooKeeper four-letter command and returns the whole reply, or null on
 * refusal/timeout. A paused (SIGSTOPped) server still completes the TCP handshake
 * (the kernel does it), so only the timeout tells us it is frozen.
 */
export function fourLetter(host: string, port: number, cmd: string, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (v: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(cmd));
    sock.on('data', (d: string) => (buf += d));
    sock.on('end', () => finish(buf));
    sock.on('close', () => finish(buf || null));
    sock.on('error', () => finish(null));
  });
}

export type ZkMode = 'standalone' | 'leader' | 'follower' | 'observer';

/** The `Mode:` line of `srvr`; null when the server does not answer or is not serving. */
export async function srvrMode(host: string, port: number, timeoutMs = 1000): Promise<ZkMode | null> {
  const reply = await fourLetter(host, port, 'srvr', timeoutMs);
  const m = reply?.match(/^Mode: (\w+)/m);
  return m ? (m[1] as ZkMode) : null;
}
