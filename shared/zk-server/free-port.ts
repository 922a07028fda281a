import fs from 'node:fs';
import net from 'node:net';

/**
 * Free TCP ports on 127.0.0.1 for servers we start. They are drawn at random from below the
 * kernel's ephemeral range: a port the OS picked (listen on port 0) is one it may hand to any
 * outgoing connection in the seconds before a JVM binds it, and two runs side by side would
 * draw the same low ephemeral numbers. Each candidate is checked with a real bind. A clash
 * with another run's choice stays possible but rare; the launchers retry on new ports.
 */
const FLOOR = 10_000;

function ephemeralLow(): number {
  try {
    const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low && low > FLOOR + 1000) return low;
  } catch {
    /* not Linux */
  }
  return 32_768;
}

function tryBind(host: string, port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen({ host, port, exclusive: true }, () => resolve(srv));
  });
}

const close = (srv: net.Server): Promise<void> => new Promise((r) => srv.close(() => r()));

/** Several distinct free ports (held open together while choosing, so none is drawn twice). */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const high = ephemeralLow();
  const held: net.Server[] = [];
  const ports: number[] = [];
  try {
    for (let tries = 0; ports.length < count; tries++) {
      if (tries > count * 50) throw new Error(`no ${count} free ports found on ${host} below ${high}`);
      const port = FLOOR + Math.floor(Math.random() * (high - FLOOR));
      if (ports.includes(port)) continue;
      const srv = await tryBind(host, port);
      if (!srv) continue;
      held.push(srv);
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(held.map(close));
  }
}

/** One free port (see freePorts). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}
