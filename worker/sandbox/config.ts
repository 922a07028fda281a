// The worker's `sandbox` option: its shape, its defaults and its checks.
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import type { SandboxKind } from './protocol.js';

export interface SandboxOptions {
  /** 'thread': a worker thread (resourceLimits); 'process': a child process (its own heap, pid). */
  kind: SandboxKind;
  /** The handlers module (a path, resolved against the current directory, or a file: URL), loaded in each sandbox. */
  module: string;
  /** How long a handler may go on after its abort before its sandbox is terminated (thread) or SIGKILLed (process). Default 2000. */
  graceMs?: number;
  /** Each sandbox's old-generation heap, MB (thread: resourceLimits.maxOldGenerationSizeMb; process: --max-old-space-size). */
  maxOldGenerationMb?: number;
  /** Thread only: the worker_threads resource limits (maxOldGenerationMb wins over its maxOldGenerationSizeMb). */
  resourceLimits?: ResourceLimits;
}

export interface SandboxConfig {
  kind: SandboxKind;
  /** Absolute path. */
  module: string;
  graceMs: number;
  maxOldGenerationMb?: number;
  resourceLimits?: ResourceLimits;
  /** The worker's limits.maxResultBytes (set by the worker's options): checked in the sandbox before a result or progress crosses. */
  maxResultBytes?: number;
  /** How long a sandbox's module load may take (default SANDBOX_LOAD_TIMEOUT_MS; tests set less). */
  loadTimeoutMs?: number;
}

/** A module load that hangs fails the worker's start (the first sandbox) or that attempt (a replacement), not silently holds it. */
export const SANDBOX_LOAD_TIMEOUT_MS = 30_000;

export const DEFAULT_SANDBOX_GRACE_MS = 2000;

export type OptionFailure = (field: string, value: unknown, why: string) => never;

function int(fail: OptionFailure, field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(field, v, `must be an integer in ${min}..${max}`);
  return v as number;
}

export function sandboxConfig(o: SandboxOptions, fail: OptionFailure): SandboxConfig {
  if (o === null || typeof o !== 'object') fail('sandbox', o, 'must be an object {kind, module}');
  if (o.kind !== 'thread' && o.kind !== 'process') fail('sandbox.kind', o.kind, "must be 'thread' or 'process'");
  if (typeof o.module !== 'string' || o.module === '') fail('sandbox.module', o.module, 'must be a module path or file: URL');
  let module: string;
  try {
    module = o.module.startsWith('file:') ? fileURLToPath(o.module) : isAbsolute(o.module) ? o.module : resolve(process.cwd(), o.module);
  } catch (err) {
    return fail('sandbox.module', o.module, (err as Error).message);
  }
  const graceMs = int(fail, 'sandbox.graceMs', o.graceMs ?? DEFAULT_SANDBOX_GRACE_MS, 0, 3_600_000);
  const maxOld = o.maxOldGenerationMb === undefined ? undefined : int(fail, 'sandbox.maxOldGenerationMb', o.maxOldGenerationMb, 8, 1_048_576);
  if (o.resourceLimits !== undefined) {
    if (o.kind !== 'thread') fail('sandbox.resourceLimits', o.resourceLimits, "applies to kind 'thread' only (use maxOldGenerationMb)");
    if (o.resourceLimits === null || typeof o.resourceLimits !== 'object') fail('sandbox.resourceLimits', o.resourceLimits, 'must be an object');
  }
  return {
    kind: o.kind,
    module,
    graceMs,
    ...(maxOld !== undefined ? { maxOldGenerationMb: maxOld } : {}),
    ...(o.resourceLimits !== undefined ? { resourceLimits: { ...o.resourceLimits } } : {}),
  };
}
