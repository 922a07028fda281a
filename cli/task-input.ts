// What `submit` reads from a person: --payload as JSON, @file or - (stdin); --file as JSON
// lines (or - for stdin), every line checked, unknown fields included, before anything is
// submitted, so bad input is refused whole, naming its line.
import { readFile } from 'node:fs/promises';
import { checkKnownFields } from '../client/input-fields.js';
import { newTaskRecord, TaskValidationError, type SubmitInput } from '../shared/protocol/task-record.js';
import { parseRunAt, RunAtError } from './run-at.js';

export function parseJson(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** All of stdin as text (an interactive terminal would wait for ^D: refused instead). */
export async function readStdin(what: string): Promise<string> {
  if (process.stdin.isTTY) throw new Error(`${what} - reads stdin, which is a terminal: pipe the input in (… | drover submit …)`);
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** --payload: inline JSON, `@path` (a file's JSON) or `-` (stdin's JSON); absent is null. */
export async function readPayload(arg: string | undefined): Promise<unknown> {
  if (arg === undefined) return null;
  if (arg === '-') return parseJson('--payload - (stdin)', await readStdin('--payload'));
  if (arg.startsWith('@')) {
    const file = arg.slice(1);
    if (!file) throw new Error('--payload @: name a file after the @');
    return parseJson(`--payload ${arg}`, await readText(file));
  }
  return parseJson('--payload', arg);
}

/** --file: one task object a line (blank lines skipped); `-` reads stdin. Each is checked whole. */
export async function readTaskLines(file: string): Promise<{ inputs: SubmitInput[]; lines: number[] }> {
  const name = file === '-' ? 'stdin' : file;
  const text = file === '-' ? await readStdin('--file') : await readText(file);
  const inputs: SubmitInput[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${name} line ${i + 1}`;
    const v = parseJson(where, line);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: expected an object`);
    checkKnownFields(v, `${where}: `);
    const input = v as SubmitInput & { runAt?: unknown };
    // A line's runAt: ms since the epoch or ISO text, as --run-at (the past refused); delayMs is
    // checked with the rest by validateAll.
    if (input.runAt !== undefined) {
      try {
        input.runAt = parseRunAt(input.runAt);
      } catch (err) {
        if (err instanceof RunAtError) throw new TaskValidationError('runAt', `${where}: runAt ${err.message}`);
        throw err;
      }
    }
    inputs.push(input);
    lines.push(i + 1);
  });
  if (inputs.length === 0) throw new Error(`${name} holds no tasks`);
  return { inputs, lines };
}

/** Every task is checked before connecting: bad input is refused whole, with its line. */
export function validateAll(inputs: SubmitInput[], where: (i: number) => string): void {
  inputs.forEach((input, i) => {
    try {
      newTaskRecord(input);
    } catch (err) {
      if (err instanceof TaskValidationError) throw new TaskValidationError(err.field, `${where(i)}${err.message}`);
      throw err;
    }
  });
}
