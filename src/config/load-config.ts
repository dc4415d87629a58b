// Builds the effective configuration: dbops.yaml (or --config), then DBOPS_* env, then
// flags; validates once with the schema and reports every problem in one error.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, SETTABLE_KEYS, SECRET_KEYS, envNameFor, type Config } from './schema.js';
import { ConfigError } from '../errors.js';
import { readSecretFile } from './secret-file.js';
import { unknownEnvProblem } from './env-names.js';

export type Overrides = Record<string, string | string[] | number | boolean | undefined>;

export interface LoadOptions {
  /** Explicit --config path; when absent ./dbops.yaml is used if it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Flag values by key path, e.g. { 'storage.url': 'file:///x' }. */
  flags?: Overrides;
}

export async function loadConfig(options: LoadOptions = {}): Promise<Config> {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let base: Record<string, unknown> = {};
  const file = options.file ?? env.DBOPS_CONFIG ?? (existsSync('dbops.yaml') ? 'dbops.yaml' : undefined);
  if (file) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}; pass an existing file to --config`]);
    }
    try {
      const doc = parseYaml(text) as unknown;
      if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) problems.push(`${file}: expected a mapping of settings at the top level`);
      else base = (doc as Record<string, unknown>) ?? {};
    } catch (err) {
      throw new ConfigError([`${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
    }
  }
  for (const key of SECRET_KEYS) {
    if (getPath(base, key) !== undefined && getPath(base, `${key}File`) !== undefined) problems.push(`${file}: ${key} and ${key}File are both set: keep one`);
  }
  for (const [key, kind] of Object.entries(SETTABLE_KEYS)) {
    const name = envNameFor(key);
    const raw = env[name];
    if (raw !== undefined && raw !== '') setLayered(base, key, fromString(raw, kind));
  }
  for (const key of SECRET_KEYS) {
    if (env[envNameFor(key)] && env[envNameFor(`${key}File`)]) problems.push(`${envNameFor(key)} and ${envNameFor(`${key}File`)} are both set: keep one`);
  }
  for (const name of Object.keys(env)) {
    if (!name.startsWith('DBOPS_') || KNOWN_ENV.has(name)) continue;
    const problem = unknownEnvProblem(name, KNOWN_ENV);
    if (problem) problems.push(problem);
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    const kind = SETTABLE_KEYS[key];
    setLayered(base, key, typeof value === 'string' && kind ? fromString(value, kind) : value);
  }
  problems.push(...readSecretTwins(base));
  const parsed = configSchema.safeParse(base);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(describeIssue(issue));
  }
  if (problems.length) throw new ConfigError(problems);
  return parsed.data!;
}

/** Env names that are not config keys but are ours. */
const EXTRA_ENV = ['DBOPS_CONFIG', 'DBOPS_LOG_LEVEL', 'DBOPS_LOG_JSON', 'DBOPS_DEBUG'];
const KNOWN_ENV = new Set([...Object.keys(SETTABLE_KEYS).map(envNameFor), ...EXTRA_ENV]);

function fromString(raw: string, kind: string): unknown {
  if (kind === 'list') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  // Anything else stays a string, which the schema refuses with the key's name.
  if (kind === 'boolean') return /^(1|true|yes)$/i.test(raw.trim()) ? true : /^(0|false|no)$/i.test(raw.trim()) ? false : raw;
  return raw;
}

/** A secret and its `…File` twin are one setting: a later layer's value replaces the other. */
function setLayered(target: Record<string, unknown>, key: string, value: unknown): void {
  const secret = SECRET_KEYS.find((k) => key === k || key === `${k}File`);
  if (secret) deletePath(target, key === secret ? `${secret}File` : secret);
  setPath(target, key, value);
}

/** Replaces every `…File` twin by the secret read from its file (permissions checked). */
function readSecretTwins(base: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const key of SECRET_KEYS) {
    const path = getPath(base, `${key}File`);
    if (typeof path !== 'string' || getPath(base, key) !== undefined) continue;
    try {
      setPath(base, key, readSecretFile(path, `${key}File (${envNameFor(`${key}File`)})`));
    } catch (err) {
      problems.push(err instanceof ConfigError ? err.problems.join('; ') : (err as Error).message);
    }
  }
  return problems;
}

function getPath(target: Record<string, unknown>, path: string): unknown {
  let node: unknown = target;
  for (const p of path.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[p];
  }
  return node;
}

function deletePath(target: Record<string, unknown>, path: string): void {
  const parts = path.split('.');
  const parent = getPath(target, parts.slice(0, -1).join('.'));
  if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[parts[parts.length - 1]!];
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (!next || typeof next !== 'object') node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function describeIssue(issue: { path: PropertyKey[]; message: string; code: string; keys?: string[] }): string {
  const where = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return issue.keys.map((k) => `unknown config key ${where ? `${where}.` : ''}${k}`).join('; ');
  }
  const env = SETTABLE_KEYS[where] ? ` (env ${envNameFor(where)})` : '';
  return `config key ${where || '(root)'}${env}: ${issue.message}`;
}

/** Require a setting for a command, naming the env variable and flag that provide it. */
export function requireSetting<T>(value: T | undefined, key: string, flag?: string): T {
  if (value === undefined || value === null || value === '') {
    throw new ConfigError([`missing ${key}: set ${envNameFor(key)}${flag ? `, pass ${flag}` : ''} or add it to dbops.yaml`]);
  }
  return value;
}
