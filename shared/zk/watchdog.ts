// The session's watchdog: the silent-server and lost-session detection the client library
// lacks. The library pings every third of the session timeout when idle, so hearing nothing
// for two thirds means the server is gone or frozen: drop the socket (pending requests
// fail, the library tries the next server). Disconnected for a whole session timeout
// (counted from the last byte heard) means the session is gone or will be: declare it so.
// A tick that comes much later than scheduled means this process was stalled (a handler
// blocking the event loop), not the server silent: that is said so, and the server is not
// judged on a silence the process caused.
import type { Logger } from '../log.js';
import type { SessionState } from './session-types.js';

/**
 * The longest tick (1 s). The tick is a sixth of the smaller of the timeout asked for and the
 * one granted; a later session may be granted less (a server's maxSessionTimeout lowered), so
 * the tick never grows past this, and a short grant is still watched closely enough.
 */
export const MAX_TICK_MS = 1000;
/** The shortest tick. */
const MIN_TICK_MS = 50;

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
  private tickMs = 0;
  private lastTickAt = 0;
  /** The last stall of the event loop (its length, and when it ended). */
  private stall?: { ms: number; endedAt: number };

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
    const timeout = Math.min(this.requestedTimeoutMs, this.host.grantedTimeoutMs());
    const tick = (this.tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(timeout / 6))));
    this.lastTickAt = Date.now();
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
    const late = now - this.lastTickAt - this.tickMs;
    this.lastTickAt = now;
    if (late >= this.tickMs) {
      this.onStall(late, now, granted, state);
      return;
    }
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
        const stalled = this.stall && this.stall.endedAt > this.lastContactAt ? this.stall.ms : 0;
        this.host.declareExpired(
          stalled > 0
            ? `this process was stalled for ${stalled} ms (event loop blocked), and nothing was heard from ZooKeeper for ${now - this.lastContactAt} ms (≥ session timeout ${granted} ms)`
            : `nothing heard from ZooKeeper for ${now - this.lastContactAt} ms (≥ session timeout ${granted} ms)`,
        );
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

  /**
   * The tick came `late` ms after it was due: the event loop was blocked. Whatever the server
   * sent meanwhile may still wait in the socket, unread, so nothing is judged on this tick
   * and the server gets a whole read timeout from now to be heard (the library pings at
   * once after a stall). If the stall outlasted the session timeout, the server has expired
   * the session: it says so when the connection is read, and the session is given up then.
   */
  private onStall(late: number, now: number, granted: number, state: SessionState): void {
    this.stall = { ms: late, endedAt: now };
    this.lastHeardAt = now;
    if (late >= Math.max(1000, Math.floor(granted / 3))) {
      this.log.warn(
        { blockedMs: late, sessionTimeoutMs: granted, state },
        `event loop blocked for ${late} ms: this process was stalled, not the ZooKeeper server` +
          (late >= granted ? ` (longer than the session timeout, ${granted} ms: the session has likely expired)` : ''),
      );
    }
  }
}
