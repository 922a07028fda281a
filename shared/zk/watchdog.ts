// The session's watchdog: the silent-server and lost-session detection the client library
// lacks. The library pings every third of the session timeout when idle, so hearing nothing
// for two thirds means the server is gone or frozen: drop the socket (pending requests
// fail, the library tries the next server). Disconnected for a whole session timeout
// (counted from the last byte heard) means the session is gone or will be: declare it so.
import type { Logger } from '../log.js';
import type { SessionState } from './session.js';

/** What the watchdog reads and does on its session. */
export interface WatchdogHost {
  state(): SessionState;
  /** The timeout the server granted (its pings and its expiry follow that one). */
  grantedTimeoutMs(): number;
  /** Drops the current socket; the library reconnects. */
  dropConnection(): void;
  /** Gives the session up: the server has expired it or will. */
  declareExpired(reason: string): void;
}

export class SessionWatchdog {
  /** Last byte heard, or the watchdog's own reset after acting on a silence. */
  private lastHeardAt = Date.now();
  /** The last byte really heard from a server. */
  private lastContactAt = Date.now();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly host: WatchdogHost,
    /** The timeout asked for: the tick is sized from it before the server has granted one. */
    private readonly requestedTimeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Something was heard from the current server (a byte, a connect). */
  heard(): void {
    this.lastHeardAt = this.lastContactAt = Date.now();
  }

  start(): void {
    // The server may grant less than we asked (its maxSessionTimeout): tick for the smaller.
    const tick = Math.max(50, Math.floor(Math.min(this.requestedTimeoutMs, 6000) / 6));
    this.timer = setInterval(() => this.check(), tick);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const now = Date.now();
    // The timeout the server granted, not the one asked for: the server clamps it to
    // 2..20 ticks, and its pings (every third of it) and its expiry follow what it granted.
    const granted = this.host.grantedTimeoutMs();
    const readTimeout = Math.floor((granted * 2) / 3);
    const state = this.host.state();
    if (state === 'connected' && now - this.lastHeardAt > readTimeout) {
      this.log.warn({ silentMs: now - this.lastHeardAt }, 'zookeeper server silent; dropping the connection');
      this.lastHeardAt = now;
      this.host.dropConnection();
      return;
    }
    if (state === 'disconnected') {
      // Counted from the last word of a server, as the server counts its expiry from the last
      // word of ours: a silent server was noticed only a read timeout after it went quiet.
      if (now - this.lastContactAt >= granted) {
        this.host.declareExpired(`nothing heard from ZooKeeper for ${now - this.lastContactAt} ms (≥ session timeout ${granted} ms)`);
        return;
      }
      // A server that accepts TCP but never answers the handshake would hold the library
      // in CONNECTING forever; kick it on to the next server.
      if (now - this.lastHeardAt > readTimeout) {
        this.lastHeardAt = now;
        this.host.dropConnection();
      }
    }
  }
}
