// What a LeaderElection (election.ts, which re-exports these) shows its users: its roles,
// the leader's handle with its fence, its events and options.
import type { Op } from './session.js';

export type ElectionRole = 'idle' | 'candidate' | 'leader' | 'follower' | 'stopped';

export interface LeaderHandle {
  /** Our candidate znode: the fence. */
  readonly path: string;
  /** Its sequence number: grows with every candidacy, so it orders leaders in time. */
  readonly epoch: number;
  readonly sessionId: string;
  /** The multi operation that makes a write conditional on still leading. */
  fence(): Op;
}

export interface ElectionEvents {
  role: [role: ElectionRole];
  leader: [handle: LeaderHandle];
  /** We led and no longer do (session lost, or stop()). */
  deposed: [reason: string];
  /** A predecessor watch fired (counted to show there is no herd). */
  watch: [];
  /** The directory is gone and `whenDirGone` said why: the election stopped (role 'stopped'). */
  gone: [err: Error];
  /** A check was refused (NO_AUTH): tried again with back-off (a start may rather give up). */
  refused: [err: Error];
}

export interface ElectionOptions {
  /**
   * What a missing directory means (asked on NO_NODE of it): an Error to stop with (the caller's
   * one line, e.g. its cluster being destroyed), or null to keep trying as after any error.
   */
  whenDirGone?: () => Promise<Error | null>;
}
