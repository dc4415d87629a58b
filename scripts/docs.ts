// Generates the README's tables that must never drift from the code: the configuration
// table from src/config/schema.ts (every leaf key, its env name, default and `.describe()`
// text) and "What we test" from the fault suite (the cases vitest collects in test/faults/).
// Each lives between <!-- generated:NAME --> and <!-- /generated:NAME --> in README.md.
//   npm run docs              rewrite the blocks in README.md
//   npm run docs -- --check   exit 1 naming each block that differs (CI, test/docs/)
// Options: --readme FILE (another README, for tests), --only config|faults.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { z } from 'zod';
import { configSchema, envNameFor, SETTABLE_KEYS } from '../src/config/schema.js';

const ROOT = join(fileURLToPath(import.meta.url), '../..');
const FAULTS_DIR = 'test/faults';
/** The file whose cases count as bad inputs; every other fault-suite case is a fault. */
const BAD_INPUT_FILE = 'bad-input.test.ts';

export type BlockName = 'config' | 'faults';

interface Leaf {
  key: string;
  env: string | undefined;
  defaultValue: unknown;
  description: string;
  values: readonly string[] | undefined;
}

/** Unwraps optional/default/pipe wrappers; the outermost description and default win. */
function leafOf(key: string, schema: z.ZodType): Leaf | { object: Record<string, z.ZodType> } {
  let t = schema as unknown as { def: Record<string, unknown>; description?: string; shape?: Record<string, z.ZodType> };
  let description: string | undefined;
  let defaultValue: unknown;
  for (;;) {
    description ??= t.description;
    const type = t.def.type as string;
    if (type === 'default') {
      if (defaultValue === undefined) defaultValue = t.def.defaultValue;
      t = t.def.innerType as typeof t;
    } else if (type === 'optional' || type === 'nullable') t = t.def.innerType as typeof t;
    else if (type === 'pipe') t = t.def.out as typeof t;
    else break;
  }
  if (t.def.type === 'object') return { object: t.shape! };
  if (!description) throw new Error(`src/config/schema.ts: ${key} has no .describe(): add one (it becomes the README's meaning of the key)`);
  const values = t.def.type === 'enum' ? Object.values(t.def.entries as Record<string, string>) : undefined;
  return { key, env: key in SETTABLE_KEYS ? envNameFor(key) : undefined, defaultValue, description, values };
}

/** Every leaf of the schema, in schema order. */
export function configLeaves(schema: z.ZodObject = configSchema): Leaf[] {
  const out: Leaf[] = [];
  const walk = (prefix: string, shape: Record<string, z.ZodType>): void => {
    for (const [name, schema] of Object.entries(shape)) {
      const key = prefix ? `${prefix}.${name}` : name;
      const leaf = leafOf(key, schema);
      if ('object' in leaf) walk(key, leaf.object);
      else out.push(leaf);
    }
  };
  walk('', schema.shape as Record<string, z.ZodType>);
  return out;
}

/** A table cell: pipes escaped (GFM splits cells on them, even inside code spans), one line. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

function code(value: string): string {
  return value.includes('`') ? `\`\` ${value} \`\`` : `\`${value}\``;
}

function showDefault(value: unknown): string {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return '';
  return code(Array.isArray(value) ? value.join(', ') : String(value));
}

export function configTable(): string {
  const rows = configLeaves().map((l) => {
    let meaning = l.description;
    if (l.values) meaning += `; one of ${l.values.map(code).join(', ')}`;
    return `| ${code(l.key)} | ${l.env ? code(l.env) : 'file only'} | ${cell(showDefault(l.defaultValue))} | ${cell(meaning)} |`;
  });
  return ['| key | env | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

interface ListedCase {
  name: string;
  file: string;
}

/** The fault suite's cases as vitest collects them (loops and it.each expanded); nothing runs. */
export async function faultCases(): Promise<ListedCase[]> {
  const env: NodeJS.ProcessEnv = {};
  // A vitest started from inside a test run must not take the outer run's worker settings.
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'list', FAULTS_DIR, '--json'], {
    cwd: ROOT,
    env,
    maxBuffer: 16 << 20,
  });
  const start = stdout.indexOf('[');
  if (start < 0) throw new Error(`vitest list printed no JSON: ${stdout.slice(0, 300)}`);
  const cases = JSON.parse(stdout.slice(start)) as ListedCase[];
  if (cases.length === 0) throw new Error(`vitest list found no case in ${FAULTS_DIR}`);
  return cases;
}

export function faultsTable(cases: ListedCase[]): string {
  const groups = new Map<string, { file: string; group: string; n: number }>();
  for (const c of cases) {
    const file = relative(ROOT, c.file);
    const parts = c.name.split(' > ');
    const group = parts.length > 1 ? parts.slice(0, -1).join(' › ') : '(top level)';
    const id = `${file}\0${group}`;
    const g = groups.get(id) ?? { file, group, n: 0 };
    g.n++;
    groups.set(id, g);
  }
  const sorted = [...groups.values()].sort((a, b) => a.file.localeCompare(b.file));
  const bad = cases.filter((c) => c.file.endsWith(`/${BAD_INPUT_FILE}`)).length;
  const rows = sorted.map((g) => `| [${g.file.replace(`${FAULTS_DIR}/`, '').replace(/\.test\.ts$/, '')}](${g.file}) | ${cell(g.group)} | ${g.n} |`);
  return [
    `**${cases.length} cases: ${cases.length - bad} faults and ${bad} bad inputs.**`,
    '',
    '| suite | what | cases |',
    '| --- | --- | ---: |',
    ...rows,
  ].join('\n');
}

export async function renderBlock(name: BlockName): Promise<string> {
  return name === 'config' ? configTable() : faultsTable(await faultCases());
}

const BLOCKS: BlockName[] = ['config', 'faults'];

function markers(name: BlockName): { open: string; close: string } {
  return { open: `<!-- generated:${name} (npm run docs) -->`, close: `<!-- /generated:${name} -->` };
}

/** The README with `name`'s block replaced by `content`. */
export function replaceBlock(readme: string, name: BlockName, content: string): string {
  const { open, close } = markers(name);
  const a = readme.indexOf(open);
  const b = readme.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} block`);
  return `${readme.slice(0, a + open.length)}\n${content}\n${readme.slice(b)}`;
}

/** The block's current text in the README (between the markers, trimmed). */
export function currentBlock(readme: string, name: BlockName): string {
  const { open, close } = markers(name);
  const a = readme.indexOf(open);
  const b = readme.indexOf(close);
  if (a < 0 || b < a) throw new Error(`README.md has no ${open} … ${close} block`);
  return readme.slice(a + open.length, b).trim();
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const at = (flag: string): string | undefined => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const readmePath = at('--readme') ?? join(ROOT, 'README.md');
  const only = at('--only') as BlockName | undefined;
  if (only && !BLOCKS.includes(only)) {
    process.stderr.write(`docs: --only takes ${BLOCKS.join(' or ')}\n`);
    return 2;
  }
  let readme = await readFile(readmePath, 'utf8');
  const stale: BlockName[] = [];
  for (const name of only ? [only] : BLOCKS) {
    const content = await renderBlock(name);
    if (currentBlock(readme, name) !== content) stale.push(name);
    readme = replaceBlock(readme, name, content);
  }
  if (check) {
    if (stale.length) {
      process.stderr.write(`docs: ${readmePath} is out of date (${stale.map((n) => markers(n).open).join(', ')}): run npm run docs and commit the result\n`);
      return 1;
    }
    process.stdout.write(`docs: ${readmePath} is up to date\n`);
    return 0;
  }
  await writeFile(readmePath, readme);
  process.stdout.write(stale.length ? `docs: rewrote ${stale.join(', ')} in ${readmePath}\n` : `docs: ${readmePath} was up to date\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`docs: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
