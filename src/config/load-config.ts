// Builds the effective configuration: dbops.yaml (or --config), then DBOPS_* env, then
// flags; validates once with the schema and reports every problem in one error.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema, SETTABLE_KEYS, envNameFor, type Config } from './schema.js';
import { ConfigError } from '../errors.js';

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
  for (const [key, kind] of Object.entries(SETTABLE_KEYS)) {
    const name = envNameFor(key);
    const raw = env[name];
    if (raw !== undefined && raw !== '') setPath(base, key, fromString(raw, kind));
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('DBOPS_') && !KNOWN_ENV.has(name)) problems.push(`unknown environment variable ${name}; known: ${[...KNOWN_ENV].sort().join(', ')}`);
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    const kind = SETTABLE_KEYS[key];
    setPath(base, key, typeof value === 'string' && kind ? fromString(value, kind) : value);
  }
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
