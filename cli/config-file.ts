// Options from the environment (DROVER_<OPTION>) and from a JSON file (./drover.config.json, or
// --config FILE, or $DROVER_CONFIG) under the flags: flag > environment > file > default.
// yargs' own .env('DROVER') is not used: under .strict() it turns every DROVER_* variable that
// is no option (DROVER_ZK_LOCAL, DROVER_TEST_LOG, ...) into "Unknown argument"; only the
// options the command has are read here. The values reach yargs as a config object (below
// the flags, above the defaults), so its coerce functions and checks see them like flags.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yargs from 'yargs';
import { UsageError } from './common.js';
import { unknownKey } from './did-you-mean.js';

export const CONFIG_FILE = 'drover.config.json';

export interface OptionSpec {
  type: 'boolean' | 'number' | 'string' | 'array';
  choices?: readonly unknown[];
  /** A credential: an error about its value never quotes it. */
  secret?: boolean;
}

/** Options whose value is a credential. */
const SECRET_OPTIONS: ReadonlySet<string> = new Set(['zk-auth']);

/**
 * Options that say one thing two ways (give one): the nearest layer giving any of a group gives
 * the whole group, so a flag --zk-auth-file beats DROVER_ZK_AUTH (as a flag beats the
 * environment) and DROVER_ZK_AUTH_FILE beats the file's "zk-auth"; both from one layer remain
 * a usage error (cli/common.ts zkAuthOf).
 */
const ONE_OF: readonly (readonly string[])[] = [['zk-auth', 'zk-auth-file']];

/** A command's options (its own and its ancestors', yargs options being global) and its subcommands. */
export interface CommandNode {
  options: Map<string, OptionSpec>;
  subs: Map<string, CommandNode>;
}

interface CommandLike {
  command: string;
  builder: unknown;
}

/** Never settable from the environment or the file: yargs' own, and the file's name itself. */
const NOT_LAYERED = new Set(['help', 'version', 'config']);
/**
 * Options of a command a person must type (as hidden ones: retry's and destroy's --yes), shown
 * in its help: a DROVER_DRAIN_CANCEL or a file's drain.cancel would turn every drain into a cancel.
 */
const COMMAND_LINE_ONLY: ReadonlyMap<string, ReadonlySet<string>> = new Map([['drain', new Set(['cancel'])]]);

/** The options of each command, read from its builder on a throwaway yargs (positionals and hidden options left out). */
export function optionTree(commands: readonly CommandLike[], inherited = new Map<string, OptionSpec>()): Map<string, CommandNode> {
  const out = new Map<string, CommandNode>();
  for (const c of commands) {
    const y = yargs([]);
    if (typeof c.builder === 'function') c.builder(y);
    else if (c.builder && typeof c.builder === 'object') y.options(c.builder as Record<string, never>);
    const o = (y as unknown as { getOptions(): unknown }).getOptions() as {
      key: Record<string, unknown>;
      boolean: string[];
      number: string[];
      array: string[];
      hiddenOptions: string[];
      choices: Record<string, unknown[]>;
    };
    const positionals = new Set([...c.command.matchAll(/[<[]([\w-]+)(?:\.\.)?[>\]]/g)].map((m) => m[1]!));
    const typedOnly = COMMAND_LINE_ONLY.get(c.command.split(' ')[0]!);
    const options = new Map(inherited);
    for (const name of Object.keys(o.key)) {
      if (NOT_LAYERED.has(name) || positionals.has(name) || o.hiddenOptions.includes(name) || typedOnly?.has(name)) continue;
      const type = o.boolean.includes(name) ? 'boolean' : o.number.includes(name) ? 'number' : o.array.includes(name) ? 'array' : 'string';
      options.set(name, { type, ...(o.choices[name] ? { choices: o.choices[name] } : {}), ...(SECRET_OPTIONS.has(name) ? { secret: true } : {}) });
    }
    const handlers = (y as any).getInternalMethods().getCommandInstance().getCommandHandlers() as Record<string, { original: string; builder: unknown }>;
    const subs = optionTree(Object.values(handlers).map((h) => ({ command: h.original, builder: h.builder })), options);
    out.set(c.command.split(' ')[0]!, { options, subs });
  }
  return out;
}

/** The command a command line runs: the node of its first word naming a command, then of its subcommands. */
export function commandPath(args: readonly string[], tree: Map<string, CommandNode>): { path: string[]; node: CommandNode } | undefined {
  let level = tree;
  let found: { path: string[]; node: CommandNode } | undefined;
  for (const a of args) {
    if (a === '--') break;
    const node = level.get(a);
    if (!node) continue;
    found = { path: [...(found?.path ?? []), a], node };
    level = node.subs;
  }
  return found;
}

/** DROVER_SESSION_TIMEOUT for session-timeout. */
export const envName = (option: string) => `DROVER_${option.toUpperCase().replace(/-/g, '_')}`;

/**
 * Options that mean the same in every command that has them: these alone come from a plain
 * DROVER_<OPTION> variable and from the file's top level. Any other is its command's own
 * (`--id` is a member's name to `worker` but a task's id to `submit`; `--timeout` a wait's
 * deadline to `wait` but an attempt's limit to `submit`): DROVER_<COMMAND>_<OPTION>
 * (DROVER_WORKER_CONCURRENCY) and the command's section of the file, so that a variable set
 * for one command never changes what another does.
 */
export const SHARED_OPTIONS: ReadonlySet<string> = new Set(['zk', 'root', 'json', 'connect-timeout', 'session-timeout', 'config', 'log-format', 'log-level', 'http', 'http-host', 'zk-auth', 'zk-auth-file']);

/** The variable that gives `option` to the command at `path`. */
export const envNameFor = (path: readonly string[], option: string) => (SHARED_OPTIONS.has(option) ? envName(option) : envName(`${path.join('-')}-${option}`));

/** A value from the file (JSON) or the environment (text) as the option's type; `where` names it in the error. */
function convert(spec: OptionSpec, value: unknown, where: string, fromEnv: boolean): unknown {
  const bad = (want: string) => new UsageError(`${where} must be ${want}${spec.secret ? ` (its value not shown: a credential)` : `, got ${JSON.stringify(value)}`}`);
  let v: unknown;
  if (spec.type === 'boolean') {
    if (typeof value === 'boolean') v = value;
    else if (fromEnv && /^(true|1)$/i.test(String(value))) v = true;
    else if (fromEnv && /^(false|0)$/i.test(String(value))) v = false;
    else throw bad('true or false');
  } else if (spec.type === 'number') {
    if (typeof value === 'number' && Number.isFinite(value)) v = value;
    else if (fromEnv && /^-?\d+(\.\d+)?$/.test(String(value))) v = Number(value);
    else throw bad('a number');
  } else {
    const scalar = (x: unknown) => {
      if (typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))) return String(x);
      throw bad(spec.type === 'array' ? 'a string or a list of strings' : 'a string');
    };
    v = spec.type === 'array' ? (Array.isArray(value) ? value : [value]).map(scalar) : scalar(value);
  }
  if (spec.choices && !spec.choices.includes(v)) throw bad(`one of ${spec.choices.join(', ')}`);
  return v;
}

export interface ConfigFile {
  /** As the user named it (or drover.config.json when found in the working directory). */
  path: string;
  data: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The file `--config FILE` (or --config=FILE), else $DROVER_CONFIG, else ./drover.config.json if present names; undefined: none. */
export function readConfigFile(args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): ConfigFile | undefined {
  let given: { path: string; by: string } | undefined;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const a = args[i]!;
    if (a === '--config') {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('-')) throw new UsageError('--config: name a JSON file');
      given = { path: next, by: '--config' };
    } else if (a.startsWith('--config=')) given = { path: a.slice('--config='.length), by: '--config' };
  }
  if (!given && env.DROVER_CONFIG) given = { path: env.DROVER_CONFIG, by: 'DROVER_CONFIG' };
  const path = given?.path ?? CONFIG_FILE;
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!given && code === 'ENOENT') return undefined;
    throw new UsageError(`${given ? `${given.by} ${path}` : path}: cannot read it (${code === 'ENOENT' ? 'no such file' : (err as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(data)) throw new UsageError(`${path}: must hold a JSON object of options and command sections`);
  return { path, data };
}

/**
 * Refuses the whole file at once, whichever command runs: a key that is no option of any
 * command (top level) or of its section's command, a section that is no object, a bad value.
 */
export function validateConfigFile(file: ConfigFile, tree: Map<string, CommandNode>): void {
  const every = new Map<string, OptionSpec[]>();
  const walk = (nodes: Map<string, CommandNode>) => {
    for (const n of nodes.values()) {
      for (const [k, s] of n.options) every.set(k, [...(every.get(k) ?? []), s]);
      walk(n.subs);
    }
  };
  walk(tree);
  const section = (prefix: string, node: CommandNode, data: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(data)) {
      const key = `${prefix}.${k}`;
      const sub = node.subs.get(k);
      if (sub && isObject(v)) section(key, sub, v);
      else if (node.options.has(k)) convert(node.options.get(k)!, v, `${file.path}: "${key}"`, false);
      else throw unknownKey(file, key, [...node.options.keys(), ...node.subs.keys()], `not an option of drover ${prefix.replace(/\./g, ' ')}`);
    }
  };
  for (const [k, v] of Object.entries(file.data)) {
    const node = tree.get(k);
    if (node && isObject(v)) section(k, node, v);
    else if (every.has(k) && SHARED_OPTIONS.has(k)) for (const s of every.get(k)!) convert(s, v, `${file.path}: "${k}"`, false);
    else if (every.has(k)) throw new UsageError(`${file.path}: "${k}" belongs in a command's section (e.g. {"worker": {"${k}": …}}): at the top level it would reach every command that has it`);
    else if (node) throw new UsageError(`${file.path}: "${k}" must be an object of drover ${k}'s options, got ${JSON.stringify(v)}`);
    else throw unknownKey(file, k, [...every.keys(), ...tree.keys()], 'not an option of any command, nor a command\'s section');
  }
}

export interface Layered {
  /** Option → value, for yargs' .config(). */
  values: Record<string, unknown>;
  /** Option → where its value came from ("DROVER_ROOT", `drover.config.json: "worker.root"`). */
  sources: Record<string, string>;
}

/** The values the environment and the file give the command at `path`: env over its section over the top level. */
export function layeredValues(path: string[], node: CommandNode, file: ConfigFile | undefined, env: NodeJS.ProcessEnv): Layered {
  const values: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  const take = (data: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(data)) {
      const spec = node.options.get(k);
      // An object is no option's value: a section (validateConfigFile refused anything else).
      if (!spec || isObject(v)) continue;
      if (prefix === '' && !SHARED_OPTIONS.has(k)) continue; // refused by validateConfigFile

      sources[k] = `${file!.path}: "${prefix}${k}"`;
      values[k] = convert(spec, v, sources[k], false);
    }
  };
  if (file) {
    // The top level, then each section along the path (`admin`, then `admin.destroy`): the nearer wins.
    let data: Record<string, unknown> | undefined = file.data;
    let prefix = '';
    for (let i = 0; data; i++) {
      const next = path[i];
      take(data, prefix);
      const inner: unknown = next === undefined ? undefined : data[next];
      data = isObject(inner) ? inner : undefined;
      prefix += `${next}.`;
    }
  }
  for (const [k, spec] of node.options) {
    const name = envNameFor(path, k);
    const e = env[name];
    if (e === undefined || e === '') continue; // empty: unset, as DROVER_ZK= always was
    sources[k] = name;
    values[k] = convert(spec, e, sources[k], true);
  }
  // The environment gives a group (ONE_OF): the file's values of that group go.
  for (const group of ONE_OF) {
    if (!group.some((k) => sources[k]?.startsWith('DROVER_'))) continue;
    for (const k of group) if (sources[k] !== undefined && !sources[k]!.startsWith('DROVER_')) dropLayered({ values, sources }, k);
  }
  return { values, sources };
}

function dropLayered(l: Layered, k: string): void {
  delete l.values[k];
  delete l.sources[k];
}

/** Whether the command line `args` gives `option` (kebab or camel case, `--x v` or `--x=v`). */
const onCommandLine = (args: readonly string[], option: string): boolean => {
  const camel = option.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  return args.some((a) => [option, camel].some((n) => a === `--${n}` || a.startsWith(`--${n}=`)));
};

/**
 * A usage error that names an option whose value came from the environment or the file (and
 * not from a flag) says where: `DROVER_WORKER_CONCURRENCY: --concurrency must be an integer in 1..1000, got 0`.
 */
export function attributeError(message: string, sources: Record<string, string>, args: readonly string[]): string {
  for (const [name, source] of Object.entries(sources)) {
    if (!new RegExp(`--${name}(?![\\w-])`).test(message)) continue;
    if (args.some((a) => a === `--${name}` || a.startsWith(`--${name}=`) || a === `--no-${name}`)) continue;
    return `${source}: ${message}`;
  }
  return message;
}

/** For the command line `args`: the file read and checked, and the values it and `env` give its command. */
export function layerOptions(commands: readonly CommandLike[], args: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Layered {
  const tree = optionTree(commands);
  const file = readConfigFile(args, env, cwd);
  if (file) validateConfigFile(file, tree);
  const at = commandPath(args, tree);
  const l = at ? layeredValues(at.path, at.node, file, env) : { values: {}, sources: {} };
  // A flag gives a group (ONE_OF): the environment's and the file's values of that group go.
  for (const group of ONE_OF) if (group.some((k) => onCommandLine(args, k))) for (const k of group) dropLayered(l, k);
  return l;
}
