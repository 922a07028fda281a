// The messages between a worker and its sandboxes (worker_threads or a child process), and
// what a sandbox is told at its start. Values cross by structured clone (a thread's
// postMessage, a child's 'advanced' IPC serialisation): JSON values pass unchanged.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ParentOutcome } from '../handlers.js';

export type SandboxKind = 'thread' | 'process';

/** The task one `run` hands the handler (as TaskContext has it, plus the payload). */
export interface SandboxTask {
  taskId: string;
  type: string;
  attempt: number;
  maxAttempts: number;
  payload: unknown;
}

/** Worker → sandbox. `id` numbers the runs of one sandbox, so a late message of an old run is known. */
export type ToSandbox =
  | { t: 'run'; id: number; task: SandboxTask }
  | { t: 'abort'; id: number; message: string; kind?: string }
  | { t: 'parents'; id: number; ok: true; parents: ParentOutcome[] }
  | { t: 'parents'; id: number; ok: false; message: string };

/** Sandbox → worker. */
export type FromSandbox =
  | { t: 'ready'; types: string[] }
  | { t: 'load-error'; message: string }
  | { t: 'result'; id: number; value: unknown }
  | { t: 'error'; id: number; message: string; name?: string; stack?: string; retryable: boolean }
  /** The result's JSON is over the limit: refused here, the worker records it as its own check would. */
  | { t: 'too-large'; id: number; bytes: number; limit: number }
  | { t: 'progress'; id: number; value: unknown }
  | { t: 'log'; id: number; level: SandboxLogLevel; obj: Record<string, unknown>; msg?: string }
  | { t: 'parents-request'; id: number };

export type SandboxLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export const SANDBOX_LOG_LEVELS: readonly SandboxLogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** A thread's workerData, a child's first argument (JSON). */
export interface SandboxStart {
  /** Absolute path of the handlers module. */
  module: string;
  /** Process sandboxes: the worker's pid; the sandbox kills itself once its parent is another (the worker went). */
  parentPid?: number;
  /** A result (or a progress value) whose JSON is larger is refused in the sandbox: it never crosses. */
  maxResultBytes?: number;
}

/**
 * The compiled sandbox entry. Next to this file when built (dist/worker/sandbox/); from the
 * TypeScript sources (the tests), the built one in dist/, since a thread or a child runs
 * plain Node, which cannot load .ts.
 */
export function sandboxEntryPath(): string {
  const here = new URL('./entry.js', import.meta.url);
  const path = import.meta.url.includes('/dist/') ? here : new URL('../../dist/worker/sandbox/entry.js', import.meta.url);
  const file = fileURLToPath(path);
  if (!existsSync(file)) throw new Error(`sandbox entry ${file} is missing: build first (npx tsc -p tsconfig.json)`);
  return file;
}
