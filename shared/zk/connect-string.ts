// Checks a ZooKeeper connect string before the client library sees it: the library turns a
// bad port into an uncaught RangeError (ERR_SOCKET_BAD_PORT) thrown from a socket callback,
// which kills the host process. Here it is a typed error the caller can catch.
//
// Form: host:port[,host:port...][/chroot]; a host without a port means 2181, as in the
// library; IPv6 literals go in brackets ([::1]:2181).

export class InvalidConnectStringError extends Error {
  override name = 'InvalidConnectStringError';
  constructor(
    readonly connectString: unknown,
    why: string,
  ) {
    super(`invalid ZooKeeper connect string ${JSON.stringify(connectString)}: ${why}`);
  }
}

export interface ServerAddress {
  host: string;
  port: number;
}

export interface ParsedConnectString {
  servers: ServerAddress[];
  /** The chroot suffix ('' when none). */
  chroot: string;
}

const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$/;

/** Parses and validates; throws InvalidConnectStringError naming what is wrong. */
export function parseConnectString(connectString: unknown): ParsedConnectString {
  if (typeof connectString !== 'string' || connectString.trim() === '') {
    throw new InvalidConnectStringError(connectString, 'give host:port[,host:port...]');
  }
  const slash = connectString.indexOf('/');
  const hostsPart = slash >= 0 ? connectString.slice(0, slash) : connectString;
  const chroot = slash >= 0 ? connectString.slice(slash) : '';
  if (chroot !== '' && (chroot === '/' || chroot.endsWith('/') || chroot.includes('//'))) {
    throw new InvalidConnectStringError(connectString, `bad chroot ${JSON.stringify(chroot)}`);
  }
  const servers: ServerAddress[] = [];
  for (const raw of hostsPart.split(',')) {
    const part = raw.trim();
    if (part === '') throw new InvalidConnectStringError(connectString, 'empty server in the list');
    let host = part;
    let portText = '2181';
    const bracket = part.startsWith('[') ? part.indexOf(']') : -1;
    const colon = part.lastIndexOf(':');
    if (part.startsWith('[')) {
      if (bracket < 0) throw new InvalidConnectStringError(connectString, `unclosed [ in ${JSON.stringify(part)}`);
      host = part.slice(0, bracket + 1);
      const rest = part.slice(bracket + 1);
      if (rest !== '') {
        if (!rest.startsWith(':')) throw new InvalidConnectStringError(connectString, `bad server ${JSON.stringify(part)}`);
        portText = rest.slice(1);
      }
    } else if (colon >= 0) {
      host = part.slice(0, colon);
      portText = part.slice(colon + 1);
    }
    if (!HOST_RE.test(host)) throw new InvalidConnectStringError(connectString, `bad host ${JSON.stringify(host)} in ${JSON.stringify(part)}`);
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new InvalidConnectStringError(connectString, `bad port ${JSON.stringify(portText)} in ${JSON.stringify(part)} (use 1..65535)`);
    }
    servers.push({ host, port: Number(portText) });
  }
  return { servers, chroot };
}
